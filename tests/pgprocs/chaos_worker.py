"""Entry point of one worker process in the PostgreSQL chaos test; the test SIGKILLs it
at will and restarts the server under it.

The loop is tests/procs/crash_worker.py's (claim -> a few ms of work -> heartbeat ->
submit ``{"by": name, "token": token}``; reap expired leases when idle and every
``REAP_EVERY_S``; stall past the lease with probability ``stall_p`` so that the fencing
path runs), plus what a worker on a server store must do: every board call that fails
with :class:`~baton.errors.StoreUnavailable` (the server is down or restarting) is
retried with capped exponential backoff. ``claim`` and ``submit`` carry idempotency keys,
so a call whose commit was cut off by the server going away is replayed, not repeated:
a claim that did commit is not left to expire, and a submit that did commit is not
refused as a lost lease on retry.

Facts go to ``stats_path`` as JSON lines written with ``O_APPEND`` (tests/procs/
crash_worker.read_stats reads them, skipping a line torn by SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from baton import Board, LeaseLost, RunState
from baton.errors import StoreUnavailable, TransientConflict

T = TypeVar("T")

REAP_EVERY_S = 0.25
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0


def work(
    url: str, run_id: str, name: str, stats_path: str, seed: int, stall_p: float, lease_s: float
) -> None:
    fd = os.open(stats_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        asyncio.run(_work(url, run_id, name, fd, random.Random(seed), stall_p, lease_s))
    finally:
        os.close(fd)


async def _work(
    url: str, run_id: str, name: str, fd: int, rng: random.Random, stall_p: float, lease_s: float
) -> None:
    def note(fact: str, **data: Any) -> None:
        os.write(fd, (json.dumps({"fact": fact, "by": name, **data}) + "\n").encode())

    async def retrying(what: str, call: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        """``call(*args, **kw)`` until the store answers; other errors go to the caller."""
        delay = BACKOFF_FIRST_S
        while True:
            try:
                return await call(*args, **kw)
            except (StoreUnavailable, TransientConflict) as exc:
                note("unavailable", what=what, error=str(exc)[:160], t=time.monotonic())
                await asyncio.sleep(delay * rng.uniform(0.5, 1.5))
                delay = min(BACKOFF_MAX_S, delay * 2)

    board = Board.open(url)
    reaper = f"reaper/{name}"
    last_reap = 0.0
    claims = 0

    async def reap() -> None:
        nonlocal last_reap
        last_reap = time.monotonic()
        for t in await retrying("reap", board.reap_expired, actor=reaper):
            note("reaped", task=t.id, state=t.state.value)

    try:
        note("started", pid=os.getpid())
        while True:
            if time.monotonic() - last_reap > REAP_EVERY_S:
                await reap()
            head = await retrying("last_seq", board.store.last_seq)
            key = f"{name}:claim:{claims}"
            lease = await retrying(
                "claim", board.claim, name, ["worker"], run_id=run_id, idempotency_key=key
            )
            claims += 1
            if lease is None:
                run = await retrying("get_run", board.get_run, run_id)
                if run.state is not RunState.ACTIVE:
                    note("finished")
                    return
                await reap()
                await retrying("wait", board.store.wait_for_commit, head, 0.1)
                continue
            tid, token = lease.task.id, lease.token
            note("claimed", task=tid, token=token)
            await asyncio.sleep(rng.uniform(0.002, 0.008))  # the work
            try:
                await retrying("heartbeat", board.heartbeat, tid, token, name)
                if rng.random() < stall_p:
                    note("stall", task=tid, token=token)
                    await asyncio.sleep(lease_s * rng.uniform(1.3, 2.0))
                output = {"by": name, "token": token}
                skey = f"{name}:submit:{tid}:{token}"
                await retrying(
                    "submit",
                    board.submit,
                    tid,
                    token,
                    output,
                    participant=name,
                    idempotency_key=skey,
                )
                note("submitted", task=tid, token=token)
            except LeaseLost as exc:
                note("lease_lost", task=tid, token=token, reason=exc.reason)
    finally:
        with contextlib.suppress(StoreUnavailable):
            await board.close()
