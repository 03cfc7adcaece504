"""Entry point of one writer process in the seq test: a mix of board calls, some of
which commit and some of which are rolled back on purpose, each one timed.

Every call is recorded with the monotonic time it started and returned (the same
``CLOCK_MONOTONIC`` in every process), so that the test can check that ``seq`` order
is commit order as observed: a call that returned before another began has the
smaller ``seq``.

Calls that roll back, by kind:

* ``lease_lost``: a submit with a token the process does not hold;
* ``invalid``: cancelling a task the process already finished (``InvalidTransition``);
* ``flush_raise``: a raw store transaction that appends an event, numbers it
  (``flush`` takes seqs from the counter) and then raises — the numbers must be handed
  out again, and the event must never be seen;
* ``twin``: processes ``p00`` and ``p01`` post the same message with the same
  idempotency key at about the same time; one commits, the other replays it (or rolls
  back on the key's unique index after numbering its event, and retries).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from baton import Board, InvalidTransition, LeaseLost

TWINS = ("p00", "p01")
TWIN_EVERY = 4


class Deliberate(Exception):
    """Raised inside a transaction to roll it back."""


def write(url: str, run_id: str, name: str, n: int, seed: int, barrier: Any, out: str) -> None:
    asyncio.run(_write(url, run_id, name, n, random.Random(seed), barrier, Path(out)))


async def _write(
    url: str, run_id: str, name: str, n: int, rng: random.Random, barrier: Any, out: Path
) -> None:
    board = Board.open(url)
    calls: list[dict[str, Any]] = []
    rolled_back: dict[str, int] = {"lease_lost": 0, "invalid": 0, "flush_raise": 0}
    finished: list[str] = []

    def record(op: str, t0: float, **data: Any) -> None:
        calls.append({"op": op, "by": name, "t0": t0, "t1": time.monotonic(), **data})

    try:
        await board.store.last_seq()  # open before the start
        barrier.wait(timeout=120)
        for k in range(n):
            if name in TWINS and k % TWIN_EVERY == 0:
                t0 = time.monotonic()
                text = f"twin:{k}"
                ev = await board.post_message(
                    run_id, "note", {"text": text}, sender="twin", idempotency_key=text
                )
                record("twin", t0, text=text, seq=ev.seq)
                continue
            op = rng.choice(["work", "work", "note", "lease_lost", "invalid", "flush_raise"])
            t0 = time.monotonic()
            if op == "work":
                lease = await board.claim(name, ["worker"], run_id=run_id)
                assert lease is not None, "the board has more tasks than the writers take"
                tid, token = lease.task.id, lease.token
                record("claim", t0, task=tid, token=token)
                t0 = time.monotonic()
                await board.submit(tid, token, {"by": name}, participant=name)
                record("submit", t0, task=tid, token=token)
                finished.append(tid)
            elif op == "note":
                text = f"{name}:{k}"
                ev = await board.post_message(run_id, "note", {"text": text}, sender=name)
                record("note", t0, text=text, seq=ev.seq)
            elif op == "lease_lost":
                try:
                    await board.submit(f"{run_id}/t0000", 10_000, {}, participant=name)
                except LeaseLost:
                    rolled_back[op] += 1
            elif op == "invalid":
                if not finished:
                    continue
                try:
                    await board.cancel_task(rng.choice(finished), actor=name)
                except InvalidTransition:
                    rolled_back[op] += 1
            else:
                try:
                    async with board.store.transaction() as tx:
                        payload = {"k": k}
                        await tx.append_event(run_id, None, "test.rolled_back", name, payload, 0)
                        await tx.flush()
                        raise Deliberate
                except Deliberate:
                    rolled_back[op] += 1
    finally:
        await board.close()
    out.write_text(json.dumps({"name": name, "calls": calls, "rolled_back": rolled_back}))
