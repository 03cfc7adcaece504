"""Entry point of one worker process in the crash test; the test SIGKILLs it at will.

The loop is the one a real agent host runs: claim → work (a few ms) → heartbeat →
submit ``{"by": name, "token": token}``; when nothing is claimable it returns expired
leases (``reap_expired``) and waits for the next commit. It also reaps every
``REAP_EVERY_S`` while busy, so that a dead holder's task does not wait for an idle
moment. With probability ``stall_p`` it stalls past its lease before submitting, so
that the fencing path (``LeaseLost``) runs for real.

What it did is appended, one JSON line per fact, to ``stats_path`` with ``O_APPEND``
writes, so the lines of a process killed mid-way survive (a torn last line is skipped
by :func:`read_stats`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from baton import Board, LeaseLost, RunState

REAP_EVERY_S = 0.25


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

    board = Board.open(url)
    reaper = f"reaper/{name}"
    last_reap = 0.0

    async def reap() -> None:
        nonlocal last_reap
        last_reap = time.monotonic()
        for t in await board.reap_expired(actor=reaper):
            note("reaped", task=t.id, state=t.state.value)

    try:
        note("started", pid=os.getpid())
        while True:
            if time.monotonic() - last_reap > REAP_EVERY_S:
                await reap()
            head = await board.store.last_seq()
            lease = await board.claim(name, ["worker"], run_id=run_id)
            if lease is None:
                if (await board.get_run(run_id)).state is not RunState.ACTIVE:
                    note("finished")
                    return
                await reap()
                await board.store.wait_for_commit(head, 0.1)
                continue
            tid, token = lease.task.id, lease.token
            await asyncio.sleep(rng.uniform(0.002, 0.008))  # the work
            try:
                await board.heartbeat(tid, token, name)
                if rng.random() < stall_p:
                    note("stall", task=tid, token=token)
                    await asyncio.sleep(lease_s * rng.uniform(1.3, 2.0))
                await board.submit(tid, token, {"by": name, "token": token}, participant=name)
                note("submitted", task=tid, token=token)
            except LeaseLost as exc:
                note("lease_lost", task=tid, token=token, reason=exc.reason)
    finally:
        await board.close()


def read_stats(directory: Path) -> list[dict[str, Any]]:
    """Every fact every worker wrote, skipping a line torn by SIGKILL."""
    facts = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                facts.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return facts
