"""Baton, through its public API, on SQLite and on PostgreSQL — two ways.

* ``baton-worker``: what the docs tell users to run — the documented ``baton.Worker``
  hosting one no-op agent (``{"peer": agent}``), ``concurrency=1``, its defaults
  otherwise (watchdog duty on, idle wait 0.5 s), one per process, N processes, each
  serving every run on the board (``Worker.run()`` without ``run_id``), stopped by
  SIGTERM as ``baton worker`` is.
* ``baton-loop``: the bare loop the other benchmarks measure (bench/_pg_sides.py):
  ``board.claim``, then ``board.submit_and_claim`` (the result handed in with the next
  claim, one transaction) while it finds work (``board.fail`` for a failed attempt);
  when nothing is ready, take the idle turn (``board.idle_turn``), read the last
  ``seq``, claim once more, reap expired leases and wait for work, again from the seq
  that woke it (``Worker``'s idle loop, minus the Worker).

Dependencies are Baton's own: the workload is one run whose tasks carry
``depends_on``; a task becomes ready in the transaction that finishes its last
dependency. The failing 1 % retry through the task's own policy (``max_attempts=2``,
``backoff_base_s=0``). ``lease_s=10`` on every task: a killed worker's task is
reclaimable 10 s later (the watchdog duty of a surviving Worker, or a loop's
``reap_expired``, returns it to ready).

These processes run in the *project's* venv (``.venv``), not the peers' — Baton is
measured as the project installs it, and its pins never meet the peers'. By default
they import a snapshot of ``src/`` at ``HEAD`` (``git archive``; see ``run.py
--baton-src``), so a colleague's uncommitted edits in the work tree are not measured.
SQLite durability: ``durability="full"`` (``synchronous=FULL``, an fsync per commit)
for *durable*, Baton's default ``"normal"`` for *fast*.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import adapter
import tasks

LEASE_S = 10.0


class _Baton(adapter.Adapter):
    python = adapter.BATON_PY
    mode = "worker"
    store = "sqlite"

    def env(self) -> dict[str, str]:
        env = super().env()
        assert self.ctx is not None
        if self.ctx.baton_src:
            env["PYTHONPATH"] = f"{adapter.HERE}:{self.ctx.baton_src}"
        env["PEERS_BATON_STORE"] = self.store
        return env

    def worker_cmds(self, n: int) -> list[list[str]]:
        script = str(Path(__file__).resolve())
        return [[self.python, script, self.mode, f"w{i}"] for i in range(n)]

    def control_cmd(self) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), "control", "ctl"]


def _make(mode: str, store: str) -> type[_Baton]:
    label = f"baton-{mode}-{'sqlite' if store == 'sqlite' else 'pg'}"
    attrs = {
        "name": label,
        "mode": mode,
        "store": store,
        "server": "pg" if store == "pg" else None,
        "workers_mean": (
            "N processes, each one baton.Worker(concurrency=1) with a no-op agent"
            if mode == "worker"
            else "N processes, each a board.claim + board.submit_and_claim loop"
        ),
        "recovery": (
            f"lease expiry ({LEASE_S:.0f} s) + the reaper ("
            + ("a surviving Worker's watchdog duty" if mode == "worker" else "reap_expired")
            + ")"
        ),
        "durability_note": (
            "SQLite WAL, synchronous=FULL (durable) / NORMAL, Baton's default (fast)"
            if store == "sqlite"
            else "PostgreSQL fsync=on, synchronous_commit=on (durable) / fsync=off (fast)"
        ),
    }
    return type(label, (_Baton,), attrs)


BatonWorkerSqlite = _make("worker", "sqlite")
BatonWorkerPg = _make("worker", "pg")
BatonLoopSqlite = _make("loop", "sqlite")
BatonLoopPg = _make("loop", "pg")
ADAPTERS = (BatonWorkerSqlite, BatonWorkerPg, BatonLoopSqlite, BatonLoopPg)


# --- inside Baton's processes (the project's venv) -----------------------------------


def plan(spec: str) -> dict[str, Any]:
    g = tasks.graph(spec)
    out: list[dict[str, Any]] = []
    for t in g.ids:
        task: dict[str, Any] = {
            "id": t,
            "role": tasks.ROLE,
            "max_attempts": 2,
            "backoff_base_s": 0.0,
            "lease_s": LEASE_S,
        }
        if g.deps[t]:
            task["depends_on"] = list(g.deps[t])
        if t in g.failing:
            task["input"] = {"fail": True}
        out.append(task)
    return {"goal": f"peers benchmark {spec}", "roles": [tasks.ROLE], "tasks": out}


def open_board() -> Any:
    from dataclasses import replace

    from baton.board import Board
    from baton.model.limits import DEFAULT_LIMITS

    limits = replace(DEFAULT_LIMITS, max_tasks=max(DEFAULT_LIMITS.max_tasks, 50_000))
    if os.environ["PEERS_BATON_STORE"] == "pg":
        return Board.open(os.environ["PEERS_PG_URL"], limits=limits)
    from baton.store.sqlite import SqliteStore

    durability = "full" if os.environ["PEERS_DURABLE"] == "1" else "normal"
    path = Path(os.environ["PEERS_WORKDIR"]) / "baton.db"
    return Board(SqliteStore(str(path), durability=durability), limits=limits)


async def agent(ctx: Any) -> dict[str, Any]:
    """The no-op agent."""
    tasks.execute(ctx.run.id, ctx.task.key, bool(ctx.task.input.get("fail")))
    return {}


def _stop_on_term() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    return stop


async def run_worker(name: str) -> None:
    from baton.runtime.worker import Worker

    board = open_board()
    stop = _stop_on_term()
    try:
        await board.last_seq()  # connected, schema checked
        worker = Worker(board, {tasks.ROLE: agent}, name=name, concurrency=1)
        tasks.ready()
        await worker.run(stop=stop)
    finally:
        await board.close()


async def run_loop(name: str) -> None:
    board = open_board()
    stop = _stop_on_term()
    try:
        await board.last_seq()
        tasks.ready()
        lease = None
        while not stop.is_set():
            if lease is None:
                lease = await board.claim(name, [tasks.ROLE])
            if lease is None:
                lease = await idle(board, name, stop)
                if lease is None:
                    continue
            task = lease.task
            try:
                tasks.execute(task.run_id, task.key, bool(task.input.get("fail")))
            except tasks.FailedOnce as exc:
                await board.fail(task.id, lease.token, str(exc), participant=name)
                lease = None
                continue
            # The result handed in with the next claim, one transaction (as the Worker).
            handoff = await board.submit_and_claim(
                task.id, lease.token, {}, participant=name, roles=[tasks.ROLE]
            )
            lease = handoff.lease
        if lease is not None:  # stopped holding the next task: give it back
            await board.release(lease.task.id, lease.token, participant=name)
    finally:
        await board.close()


async def idle(board: Any, name: str, stop: asyncio.Event) -> Any:
    """The documented idle wait (docs/postgres.md): in turn with the other idle loops,
    claiming after reading head, waiting again from the seq that woke it."""
    async with board.idle_turn([tasks.ROLE], timeout=0.5) as mine:
        if not mine:
            return None
        head = await board.last_seq()
        woke: int | None = None
        while not stop.is_set():
            lease = await board.claim(name, [tasks.ROLE])
            if lease is not None:
                return lease
            if woke is None:  # just in, or the wait timed out: expired leases back
                await board.reap_expired(actor=name)
            woke = await board.wait_for_work(head, 0.5)
            head = head if woke is None else woke
    return None


async def run_control() -> None:
    from control import serve

    board = open_board()
    await board.last_seq()  # migrates a new store before any worker starts
    loop = asyncio.get_running_loop()

    def submit(req: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        fut = asyncio.run_coroutine_threadsafe(
            board.create_run(plan(req["spec"]), actor="bench", run_id=req["run"]), loop
        )
        fut.result()
        return {"enqueue_s": time.monotonic() - start}

    try:
        await asyncio.to_thread(serve, {"submit": submit})
    finally:
        await board.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("worker", "loop", "control"))
    ap.add_argument("name")
    args = ap.parse_args()
    if args.role == "worker":
        asyncio.run(run_worker(args.name))
    elif args.role == "loop":
        asyncio.run(run_loop(args.name))
    else:
        asyncio.run(run_control())


if __name__ == "__main__":
    main()
