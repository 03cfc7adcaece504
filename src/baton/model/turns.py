"""Turns for idle workers: of the workers that could claim the same tasks, one at a
time waits for work.

Without turns every idle worker wakes for every released task, all of them claim, one
wins: each hand-off costs a claim round trip per idle worker, and the server's work per
task grows with the number of workers (a chain with 16 workers handed off eight times
slower than with one). With turns one idle worker — the turn's holder — waits and
claims; the others wait for the turn, at no cost to anyone. The holder gives the turn
up as soon as it has claimed something, and the next one takes it and claims at once:
a commit releasing several tasks wakes them one after the other.

Workers share a turn only if any task one of them could claim, the others could claim
as well: the same principal (what it may claim, and whose reviews it may not do), the
same roles, the same run. A turn is a wait, never a guarantee: a store that cannot take
one for another process (or loses it with a connection) lets the worker go on alone,
which is the behaviour without turns, never a worker that waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager


def turn_key(principal: str, roles: Sequence[str], run_id: str | None) -> str:
    """The turn of the workers acting as ``principal`` ("" for the store's owner) for
    ``roles`` in ``run_id`` (``None``: any run)."""
    return "\x1f".join([principal, run_id or "", *sorted(set(roles))])


class LocalTurns:
    """Turns among the workers of one process: one lock per turn."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def take(self, key: str, timeout: float) -> AsyncIterator[bool]:
        """Hold the turn ``key`` for the ``async with`` block (``True``), or ``False``
        if another holder kept it for ``timeout`` seconds."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), max(timeout, 0.0))
        except TimeoutError:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
