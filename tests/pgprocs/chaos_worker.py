"""Entry point of one worker process in the PostgreSQL chaos test; the test SIGKILLs it
at will and restarts the server under it.

It runs the real :class:`baton.runtime.worker.Worker` (claim loop, heartbeats, reaping expired
leases when idle, backing off while the store is unavailable, resubmitting a kept
result with an idempotency key while the lease may still be valid). Its one agent
works a few milliseconds and answers ``{"by": name, "token": token}``. With
probability ``stall_p`` the agent *freezes the whole process* past its lease
(``time.sleep`` inside an async agent blocks the event loop, heartbeats included) —
a GC pause, a swapped-out host — so that its late result must be refused
(the fencing path).

What happened is appended to ``stats_path`` as JSON lines with ``O_APPEND`` writes, so
the lines of a process killed mid-way survive (tests/procs/crash_worker.read_stats
skips a torn last line): what the agent was given and answered, the worker's warnings
(dropped results, store outages) and the connection pool's (dead connections).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from typing import Any

from baton import Board
from baton.agents import TaskContext
from baton.model.errors import StoreUnavailable
from baton.runtime.worker import Worker


class _Facts(logging.Handler):
    """The worker's log records, as facts."""

    def __init__(self, note: Any) -> None:
        super().__init__(logging.INFO)
        self.note = note

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name.startswith("psycopg"):  # the pool noticed dead connections
            self.note("pool", message=message[:300], t=time.monotonic())
        elif "dropped result" in message:
            self.note("dropped", message=message[:300])
        elif "unavailable" in message or "failed:" in message:
            self.note("unavailable", message=message[:300], t=time.monotonic())


def work(
    url: str, run_id: str, name: str, stats_path: str, seed: int, stall_p: float, lease_s: float
) -> None:
    fd = os.open(stats_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def note(fact: str, **data: Any) -> None:
        os.write(fd, (json.dumps({"fact": fact, "by": name, **data}) + "\n").encode())

    for logger in ("baton.runtime.worker", "psycopg.pool"):
        log = logging.getLogger(logger)
        log.addHandler(_Facts(note))
        log.setLevel(logging.INFO if logger == "baton.runtime.worker" else logging.WARNING)
        log.propagate = False
    try:
        asyncio.run(_work(url, run_id, name, note, random.Random(seed), stall_p, lease_s))
    finally:
        os.close(fd)


async def _work(
    url: str,
    run_id: str,
    name: str,
    note: Any,
    rng: random.Random,
    stall_p: float,
    lease_s: float,
) -> None:
    async def agent(ctx: TaskContext) -> dict[str, Any]:
        tid, token = ctx.task.id, ctx.lease.token
        note("working", task=tid, token=token, t=time.monotonic())
        await asyncio.sleep(rng.uniform(0.002, 0.008))  # the work
        if rng.random() < stall_p:
            note("stall", task=tid, token=token, t=time.monotonic())
            time.sleep(lease_s * rng.uniform(1.3, 2.0))  # frozen, heartbeats and all
        note("result", task=tid, token=token, t=time.monotonic())
        return {"by": name, "token": token}

    board = Board.open(url)
    worker = Worker(board, {"worker": agent}, name=name, idle_wait_s=0.1)
    note("started", pid=os.getpid())
    delay = 0.05
    try:
        while True:
            try:
                await worker.run(run_id=run_id)
                break
            except StoreUnavailable as exc:  # check_run, before the slots' own retries
                note("unavailable", message=f"at start: {exc}"[:300], t=time.monotonic())
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
        note("finished", completed=worker.completed, failed=worker.failed)
    finally:
        try:
            await board.close()
        except StoreUnavailable:
            note("unavailable", message="at close")
