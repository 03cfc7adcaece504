"""HTTP door benchmark: remote workers through ``baton serve`` against workers on the
store directly, and event delivery latency from commit to an SSE client.

    .venv/bin/python bench/http_door.py [--quick] [--json] [--reps N] [--no-pg]

(a) Task lifecycles per second, 4 worker *processes*, each the documented
    ``baton.Worker`` (no-op agent, concurrency 1, no watchdog) draining one run of
    independent tasks to its end: "direct" opens the store (``Board.open``), "remote"
    connects to a ``baton serve`` process (``baton.connect``, a participant token each).
    The rate is tasks / (last worker's end - first worker's start, all released by one
    barrier); ``create_run`` is not timed. Direct and remote alternate per repetition on
    fresh stores; medians. Two run sizes, to show the cost per task does not grow.
(b) Delivery latency: a client holds ``GET /runs/{id}/events`` (SSE) open; a writer
    (another participant, through the same server) posts a message and waits until the
    client has it before posting the next; latency is receipt time - the event's ``at``
    (taken inside the write transaction, so it includes the commit); p50 / p99 over
    ``--events`` messages.

On SQLite and, unless ``--no-pg``, on PostgreSQL (``BATON_BENCH_PG``, or a throwaway
server started as bench/postgres.py does).
"""

# ruff: noqa: E402 - the path fix below must run before the imports
from __future__ import annotations

import sys

# This file is called http.py, as the issue names it; run as a script, its folder would
# come first on sys.path and shadow the standard library's ``http`` package.
_HERE = sys.path.pop(0) if sys.path and sys.path[0].endswith("bench") else None

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from baton import Board, SyncBoard, Worker, connect, connect_sync

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4


def _plan(n: int) -> dict[str, Any]:
    return {
        "goal": "bench",
        "roles": ["worker"],
        "tasks": [{"id": f"t{i:05d}", "role": "worker"} for i in range(n)],
    }


async def _noop(ctx: Any) -> dict[str, Any]:
    return {}


def _drain(where: str, token: str | None, run_id: str, name: str, barrier: Any, q: Any) -> None:
    async def go() -> tuple[float, float, int]:
        board = await connect(where, token) if token else Board.open(where, create=False)
        try:
            await board.last_seq()  # connected and readable before the start
            worker = Worker(board, {"worker": _noop}, name=name, watchdog=False)
            barrier.wait(timeout=120)
            start = time.perf_counter()
            await worker.run(run_id=run_id)
            return start, time.perf_counter(), worker.completed
        finally:
            await board.close()

    q.put(asyncio.run(go()))


def _serve(store: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "serve", "--db", store, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"baton serve did not start on {store}")
    return proc, url


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


def lifecycles(store: str, tasks: int, remote: bool) -> float:
    """Tasks per second for 4 Worker processes on ``store`` (a fresh, empty store)."""
    with SyncBoard.open(store) as owner:
        run = owner.create_run(_plan(tasks))
        tokens = [
            owner.add_participant(f"w{i}", kind="agent", roles=["worker"], runs=[run.id])[1]
            for i in range(WORKERS)
        ]
    ctx = multiprocessing.get_context("spawn")
    barrier, q = ctx.Barrier(WORKERS), ctx.Queue()
    server, url = _serve(store) if remote else (None, store)
    try:
        procs = [
            ctx.Process(
                target=_drain,
                args=(url, tokens[i] if remote else None, run.id, f"w{i}", barrier, q),
            )
            for i in range(WORKERS)
        ]
        for p in procs:
            p.start()
        results = [q.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        if server is not None:
            _stop(server)
    done = sum(r[2] for r in results)
    assert done == tasks, f"{done} of {tasks} done"
    return tasks / (max(r[1] for r in results) - min(r[0] for r in results))


def latency(store: str, events: int) -> list[float]:
    """Seconds from each message's commit to its arrival at an SSE client."""
    with SyncBoard.open(store) as owner:
        run = owner.create_run(_plan(1))
        _, token = owner.add_participant("watch", kind="human", runs=["*"])
    server, url = _serve(store)
    got: list[tuple[int, float]] = []
    arrived = threading.Condition()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        with (
            httpx.Client(base_url=url, timeout=60) as http,
            http.stream("GET", f"/runs/{run.id}/events?kind=message.", headers=headers) as r,
        ):
            for line in r.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    with arrived:
                        got.append((event["seq"], time.time() - event["at"]))
                        arrived.notify_all()
                    if len(got) >= events:
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        with connect_sync(url, token) as writer:  # a remote participant, through the door
            for i in range(events):
                writer.post_message(run.id, "note", {"text": str(i)}, sender="watch")
                with arrived:
                    if not arrived.wait_for(lambda i=i: len(got) > i, timeout=30):
                        raise SystemExit("an event did not arrive within 30 s")
        listener.join(10)
    finally:
        _stop(server)
    return [lat for _, lat in got]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure(
    name: str, fresh: Callable[[], str], sizes: tuple[int, ...], reps: int, events: int
) -> dict[str, Any]:
    rows = []
    for size in sizes:
        direct, remote = [], []
        for _ in range(reps):  # alternate, so that drift hits both alike
            direct.append(lifecycles(fresh(), size, remote=False))
            remote.append(lifecycles(fresh(), size, remote=True))
        ratios = [r / d for r, d in zip(remote, direct, strict=True)]
        rows.append(
            {
                "tasks": size,
                "direct_per_s": statistics.median(direct),
                "remote_per_s": statistics.median(remote),
                "remote_to_direct": statistics.median(ratios),
                "direct_all": direct,
                "remote_all": remote,
            }
        )
    lat = latency(fresh(), events)
    return {
        "store": name,
        "lifecycles": rows,
        "sse_latency_ms": {
            "events": len(lat),
            "p50": 1000 * statistics.median(lat),
            "p99": 1000 * _pct(lat, 0.99),
            "max": 1000 * max(lat),
        },
    }


def _pg_store_factory() -> tuple[Any, Callable[[], str]]:
    sys.path.append(str(Path(__file__).parent))
    import postgres as pgbench  # the same throwaway server bench/postgres.py uses

    server = pgbench.Server().__enter__()
    return server, lambda: server.url(server.create())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--events", type=int)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    sizes = (500, 2_000) if args.quick else (2_000, 8_000)
    reps = args.reps or (1 if args.quick else 3)
    events = args.events or (100 if args.quick else 500)
    tmp = Path(tempfile.mkdtemp(prefix="baton-http-bench-"))
    counter = iter(range(10**6))
    results = [measure("sqlite", lambda: str(tmp / f"b{next(counter)}.db"), sizes, reps, events)]
    if not args.no_pg:
        server, fresh = _pg_store_factory()
        try:
            results.append(measure("postgres", fresh, sizes, reps, events))
        finally:
            server.__exit__(None, None, None)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "workers": WORKERS,
        "reps": reps,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    console = Console()
    table = Table(
        title=f"HTTP door: {WORKERS} Worker processes, remote vs direct (median of {reps})"
    )
    for col in ("store", "tasks", "direct /s", "remote /s", "remote / direct"):
        table.add_column(col, justify="right")
    for res in results:
        for row in res["lifecycles"]:
            table.add_row(
                res["store"],
                f"{row['tasks']:,}",
                f"{row['direct_per_s']:,.0f}",
                f"{row['remote_per_s']:,.0f}",
                f"{row['remote_to_direct']:.2f}"
                + (" ✓" if row["remote_to_direct"] >= 0.5 else " ✗"),
            )
    console.print(table)
    lat = Table(title="Commit → SSE client latency (target p50 < 10 ms)")
    for col in ("store", "events", "p50 ms", "p99 ms", "max ms"):
        lat.add_column(col, justify="right")
    for res in results:
        s = res["sse_latency_ms"]
        lat.add_row(res["store"], str(s["events"]), f"{s['p50']:.2f}", f"{s['p99']:.2f}",
                    f"{s['max']:.2f}")  # fmt: skip
    console.print(lat)


if __name__ == "__main__":
    main()
