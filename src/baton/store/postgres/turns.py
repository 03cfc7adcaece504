"""Idle workers' turns across processes: a session advisory lock per turn.

Waiting for the lock costs nothing: the server queues the waiters and grants the lock
to the next when its holder unlocks, or when the holder's session ends — a holder
killed with SIGKILL passes its turn on as soon as the server sees its connection close.
Each turn has its own connection, kept for the next wait: a session that blocks on a
lock can do nothing else, and a pooled connection held that long would starve the
pool. The wait is bounded by ``lock_timeout``, so a waiter comes back every
``timeout`` seconds (to reap expired leases, or to stop).

Anything that goes wrong with a turn's connection gives the worker its turn anyway
(:mod:`baton.model.turns`: a turn is a wait, never a guarantee) and drops the
connection; the next wait opens a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import errors


def lock_ids(key: str) -> tuple[int, int]:
    """The two 32-bit advisory-lock ids of ``key`` (the two-id form, apart from the
    one-bigint locks the event log takes)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return (
        int.from_bytes(digest[:4], "big", signed=True),
        int.from_bytes(digest[4:], "big", signed=True),
    )


class ServerTurns:
    """The turns of one store's processes, on ``url``'s server."""

    def __init__(self, url: str, *, connect_timeout_s: float) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self._connections: dict[str, psycopg.AsyncConnection[tuple[object, ...]]] = {}
        self._closed = False

    @asynccontextmanager
    async def take(self, key: str, timeout: float) -> AsyncIterator[bool]:
        """Hold the turn ``key`` across processes for the ``async with`` block
        (``True``; also when the server cannot be asked), or ``False`` when another
        session kept it for ``timeout`` seconds."""
        first, second = lock_ids(key)
        held = None
        try:
            conn = await self._connection(key)
            # One simple query; the ids and the timeout are numbers formatted here.
            await conn.execute(
                f"SET lock_timeout = {max(1, int(timeout * 1000))}; "
                f"SELECT pg_advisory_lock({first}, {second})"
            )
            held = conn
        except errors.LockNotAvailable:
            yield False
            return
        except (psycopg.Error, OSError):
            await self._drop(key)
        except BaseException:  # cancelled mid-wait: the session's end gives the lock up
            await self._drop(key)
            raise
        try:
            yield True
        finally:
            if held is not None:
                try:
                    await held.execute(f"SELECT pg_advisory_unlock({first}, {second})")
                except (psycopg.Error, OSError):
                    await self._drop(key)
                except BaseException:
                    await self._drop(key)
                    raise

    async def _connection(self, key: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
        conn = self._connections.get(key)
        if conn is None or conn.closed:
            if self._closed:
                raise psycopg.OperationalError("the store is closed")
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=int(self.connect_timeout_s)
            )
            self._connections[key] = conn
        return conn

    async def _drop(self, key: str) -> None:
        conn = self._connections.pop(key, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        self._closed = True
        for key in list(self._connections):
            await self._drop(key)
