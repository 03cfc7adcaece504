"""Governance benchmark: what the audit chain and tracing cost, and how fast the chain
is proved. Every figure is a ratio to the same benchmark without the feature, in the
same run, repetitions interleaved::

    .venv/bin/python bench/governance.py [--quick] [--json] [--reps N] [--events N]

(a) Hash chaining: task lifecycles (create_run of N independent tasks, then claim +
    submit each through the Board, SQLite, one process) with the chain as shipped,
    against the same Board with the chain switched off for the benchmark only (events
    inserted without digest, link or head: ``_unchained``). At two run sizes: the cost
    per task must not grow with the run.
(b) Tracing: the documented ``Worker`` with a no-op agent draining N tasks, in a fresh
    process per measurement, with (0) the attempt spans taken out of the Worker (the
    benchmark without tracing), (1) no SDK (the OpenTelemetry API's no-op spans: what
    every user gets by default), (2) the SDK with the in-memory exporter, (3) the SDK
    exporting OTLP/HTTP to a local collector stub on 127.0.0.1 (a thread answering 200,
    ``_collector.py``). Ratios to (1); (1) against (0) is what tracing costs when nobody
    configured it.
(c) ``audit verify`` on a store of ``--events`` events (default 1,000,000): the events
    are appended through the store's own transactions (chained as in production, in
    batches), then ``Board.verify_audit()`` walks the whole chain; events proved per
    second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _collector
from rich.console import Console
from rich.table import Table

from baton import Board, Worker
from baton.store.sqlite import tx as sqlite_tx

HERE = Path(__file__).resolve().parent
CHAIN_SIZES = (1_000, 10_000)
TRACE_SIZES = (500, 2_000)
TRACE_MODES = ("off", "no_sdk", "in_memory", "otlp_stub")


# --- (a) the chain ---------------------------------------------------------------------


def _unchained(self: Any, rows: Sequence[Any]) -> int:
    """SqliteTx._chain without the chain: what appending cost before it."""
    seq = self._c.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    values = []
    for run_id, task_id, kind, actor, payload, at in rows:
        seq += 1
        values.append((seq, run_id, task_id, kind, actor, sqlite_tx._rows.dumps(payload), at, None))
    self._c.executemany(sqlite_tx.QUERIES["append_event"], values)
    self.wrote_events = True
    return int(seq)


async def _lifecycles(db: str, size: int) -> float:
    board = Board.open(db)
    try:
        run = await board.create_run(
            {"goal": "bench", "roles": ["w"], "tasks": [{"id": f"t{i}", "role": "w"}
                                                         for i in range(size)]}
        )  # fmt: skip
        start = time.perf_counter()
        while True:
            lease = await board.claim("w1", ["w"], run_id=run.id)
            if lease is None:
                break
            await board.submit(lease.task.id, lease.token, {}, participant="w1")
        return size / (time.perf_counter() - start)
    finally:
        await board.close()


def chain_overhead(reps: int, sizes: Sequence[int], tmp: Path) -> list[dict[str, Any]]:
    original, original_seal = sqlite_tx.SqliteTx._chain, sqlite_tx.SqliteTx.seal
    rows = []
    for size in sizes:
        chained: list[float] = []
        plain: list[float] = []
        for rep in range(reps):
            for mode in ("chain", "plain") if rep % 2 == 0 else ("plain", "chain"):
                db = str(tmp / f"chain-{size}-{rep}-{mode}.db")
                if mode == "plain":
                    sqlite_tx.SqliteTx._chain = _unchained  # type: ignore[method-assign]
                    sqlite_tx.SqliteTx.seal = lambda self: None  # type: ignore[method-assign]
                try:
                    rate = asyncio.run(_lifecycles(db, size))
                finally:
                    sqlite_tx.SqliteTx._chain = original  # type: ignore[method-assign]
                    sqlite_tx.SqliteTx.seal = original_seal  # type: ignore[method-assign]
                (chained if mode == "chain" else plain).append(rate)
        ratios = [c / p for c, p in zip(chained, plain, strict=True)]
        rows.append(
            {
                "size": size,
                "chained_per_s": statistics.median(chained),
                "unchained_per_s": statistics.median(plain),
                "ratio": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "us_per_task_added": (
                    1e6 / statistics.median(chained) - 1e6 / statistics.median(plain)
                ),
            }
        )
    return rows


# --- (b) tracing -----------------------------------------------------------------------


def _child_trace(mode: str, size: int, db: str) -> None:
    """One measurement in its own process (a tracer provider is set once per process)."""
    if mode == "off":  # the Worker with its spans taken out: what tracing costs at all
        import contextlib

        from opentelemetry import trace

        import baton.runtime.worker as worker_module

        @contextlib.contextmanager
        def no_span(*args: Any, **kw: Any) -> Any:
            yield trace.INVALID_SPAN

        worker_module.attempt_span = no_span  # type: ignore[assignment]
    elif mode != "no_sdk":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        provider = TracerProvider()
        if mode == "in_memory":
            provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            url = _collector.start()
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        trace.set_tracer_provider(provider)

    async def noop(ctx: Any) -> dict[str, Any]:
        return {}

    async def main() -> float:
        board = Board.open(db)
        try:
            run = await board.create_run(
                {"goal": "bench", "roles": ["w"], "tasks": [{"id": f"t{i}", "role": "w"}
                                                             for i in range(size)]}
            )  # fmt: skip
            worker = Worker(board, {"w": noop}, name="w1", watchdog=False)
            start = time.perf_counter()
            await worker.run(run_id=run.id)
            return size / (time.perf_counter() - start)
        finally:
            await board.close()

    rate = asyncio.run(main())
    if mode not in ("off", "no_sdk"):
        from opentelemetry import trace

        trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]
    print(json.dumps({"rate": rate, "collector_bytes": _collector.received()}))


def tracing_overhead(reps: int, sizes: Sequence[int], tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        rates: dict[str, list[float]] = {m: [] for m in TRACE_MODES}
        for rep in range(reps):
            shift = rep % len(TRACE_MODES)
            modes = TRACE_MODES[shift:] + TRACE_MODES[:shift]
            for mode in modes:
                db = str(tmp / f"trace-{size}-{rep}-{mode}.db")
                done = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(size), db],
                    capture_output=True, text=True, check=True, env={**os.environ},
                )  # fmt: skip
                rates[mode].append(json.loads(done.stdout.splitlines()[-1])["rate"])
        base = statistics.median(rates["no_sdk"])
        for mode in TRACE_MODES:
            ratios = [r / b for r, b in zip(rates[mode], rates["no_sdk"], strict=True)]
            rows.append(
                {
                    "size": size,
                    "mode": mode,
                    "tasks_per_s": statistics.median(rates[mode]),
                    "ratio_to_no_sdk": statistics.median(ratios),
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "us_per_task_added": 1e6 / statistics.median(rates[mode]) - 1e6 / base,
                }
            )
    return rows


# --- (d) signing ---------------------------------------------------------------------


async def _signed_drain(db: str, size: int, signing: bool) -> float:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from baton.runtime.signing import public_hex

    async def noop(ctx: Any) -> dict[str, Any]:
        return {}

    board = Board.open(db)
    try:
        run = await board.create_run(
            {"goal": "bench", "roles": ["w"], "tasks": [{"id": f"t{i}", "role": "w"}
                                                         for i in range(size)]}
        )  # fmt: skip
        key = Ed25519PrivateKey.generate() if signing else None
        if key is not None:
            await board.register_key("w1", public_hex(key))
        worker = Worker(board, {"w": noop}, name="w1", watchdog=False, signing_key=key)
        start = time.perf_counter()
        await worker.run(run_id=run.id)
        return size / (time.perf_counter() - start)
    finally:
        await board.close()


def signing_overhead(reps: int, size: int, tmp: Path) -> dict[str, Any]:
    rates: dict[bool, list[float]] = {True: [], False: []}
    for rep in range(reps):
        for signing in (True, False) if rep % 2 == 0 else (False, True):
            db = str(tmp / f"sign-{rep}-{signing}.db")
            rates[signing].append(asyncio.run(_signed_drain(db, size, signing)))
    ratios = [a / b for a, b in zip(rates[True], rates[False], strict=True)]
    return {
        "size": size,
        "signed_per_s": statistics.median(rates[True]),
        "unsigned_per_s": statistics.median(rates[False]),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "us_per_task_added": 1e6 / statistics.median(rates[True])
        - 1e6 / statistics.median(rates[False]),
    }


# --- (c) verifying a million events ----------------------------------------------------


async def _fill(db: str, events: int, batch: int = 20_000) -> float:
    board = Board.open(db)
    try:
        start = time.perf_counter()
        payload = {"from": "running", "to": "done", "token": 1, "output": {"n": 1}}
        for first in range(0, events, batch):
            n = min(batch, events - first)
            async with board.store.transaction() as tx:
                await tx.append_events(
                    [("r-bench", f"r-bench/t{first + i}", "task.complete", "w1", payload,
                      1.8e9 + first + i) for i in range(n)]
                )  # fmt: skip
        return events / (time.perf_counter() - start)
    finally:
        await board.close()


async def _verify(db: str) -> tuple[float, int, bool]:
    board = Board.open(db, create=False)
    try:
        start = time.perf_counter()
        report = await board.verify_audit()
        return time.perf_counter() - start, report.checked, report.ok
    finally:
        await board.close()


def verify_speed(events: int, tmp: Path) -> dict[str, Any]:
    db = str(tmp / "million.db")
    append_rate = asyncio.run(_fill(db, events))
    seconds, checked, ok = asyncio.run(_verify(db))
    size = sum(p.stat().st_size for p in tmp.glob("million.db*"))
    return {
        "events": events,
        "append_per_s": append_rate,
        "verify_s": seconds,
        "verified_per_s": checked / seconds,
        "ok": ok,
        "store_mb": size / 1e6,
    }


# --- output ----------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child_trace(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    events = args.events or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="baton-governance-") as d:
        tmp = Path(d)
        result = {
            "date": time.strftime("%Y-%m-%d"),
            "reps": reps,
            "chain": chain_overhead(reps, CHAIN_SIZES[:1] if args.quick else CHAIN_SIZES, tmp),
            "tracing": tracing_overhead(reps, TRACE_SIZES[:1] if args.quick else TRACE_SIZES, tmp),
            "signing": signing_overhead(reps, 500 if args.quick else 2_000, tmp),
            "verify": verify_speed(events, tmp),
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    console = Console()
    t = Table(title="(a) hash chain: lifecycles/s, SQLite, one process (medians)")
    for c in ("tasks", "chained /s", "unchained /s", "ratio (min-max)", "µs/task added"):
        t.add_column(c, justify="right")
    for r in result["chain"]:
        t.add_row(str(r["size"]), f"{r['chained_per_s']:,.0f}", f"{r['unchained_per_s']:,.0f}",
                  f"{r['ratio']:.3f} ({r['ratio_min']:.3f}-{r['ratio_max']:.3f})",
                  f"{r['us_per_task_added']:.1f}")  # fmt: skip
    console.print(t)
    t = Table(title="(b) tracing: the documented Worker, no-op agent (medians)")
    for c in ("tasks", "mode", "tasks/s", "ratio to no SDK (min-max)", "µs/task added"):
        t.add_column(c, justify="right")
    for r in result["tracing"]:
        t.add_row(str(r["size"]), r["mode"], f"{r['tasks_per_s']:,.0f}",
                  f"{r['ratio_to_no_sdk']:.3f} ({r['ratio_min']:.3f}-{r['ratio_max']:.3f})",
                  f"{r['us_per_task_added']:.1f}")  # fmt: skip
    console.print(t)
    s = result["signing"]
    console.print(
        f"(d) signing (Worker, no-op agent, {s['size']:,} tasks, SQLite): "
        f"{s['signed_per_s']:,.0f}/s signed vs {s['unsigned_per_s']:,.0f}/s unsigned, ratio "
        f"{s['ratio']:.3f} ({s['ratio_min']:.3f}-{s['ratio_max']:.3f}), "
        f"{s['us_per_task_added']:.0f} µs per task"
    )
    v = result["verify"]
    console.print(
        f"(c) audit verify: {v['events']:,} events proved in {v['verify_s']:.2f} s "
        f"({v['verified_per_s']:,.0f}/s; appended at {v['append_per_s']:,.0f}/s; store "
        f"{v['store_mb']:.0f} MB; ok={v['ok']})"
    )


if __name__ == "__main__":
    main()
