"""Waiting for commits on PostgreSQL: one LISTEN connection per store wakes everyone in
the process who waits — subscribers, ``wait_ended``, idle workers.

Whoever numbers events sends ``NOTIFY baton_events, '<last seq>'`` (delivered when the
sequencer commits), and ``NOTIFY baton_work`` too when the events include a transaction
that made a task claimable or changed a run's state (migration 0018). A waiter for
commits wakes on either; an idle worker (:meth:`Wakeups.wait_for_work`) only on
``baton_work``, checked in memory, so the claims and messages of busy workers cost it
nothing. If the connection drops, it reconnects with backoff and wakes everyone to
re-read from their last seq; while it cannot listen, waiters poll ``last_seq`` every
``poll_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import psycopg


class Wakeups:
    """The store's listener and the waits it serves. ``last_seq`` reads the log's head
    (caught up): what a waiter checks when it cannot trust the notifications alone."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float,
        poll_interval_s: float,
        listen_linger_s: float,
        last_seq: Callable[[], Awaitable[int]],
    ) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self.poll_interval_s = poll_interval_s  # safety net only: NOTIFY wakes waiters
        self.listen_linger_s = listen_linger_s
        self._last_seq = last_seq
        self._listener: asyncio.Task[None] | None = None
        self._committed = asyncio.Event()
        self._wanted = asyncio.Event()  # someone waits: listen
        self.listening = asyncio.Event()  # LISTEN is in effect
        self._waiters = 0
        self._last_waited = 0.0
        self._closed = False
        self.notified_seq = 0  # the last seq heard on baton_events
        self.work_seq = 0  # the last seq of the newest commit announced on baton_work
        self._heard_from = 0  # every commit after this seq reaches the listener

    async def wait_for_commit(self, after_seq: int, timeout: float) -> bool:
        async def committed() -> int | None:
            if self.notified_seq > after_seq:
                return self.notified_seq
            return last if (last := await self._last_seq()) > after_seq else None

        return await self._wait_until(committed, timeout) is not None

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        """:meth:`wait_for_commit` for commits announced on ``baton_work`` only, checked
        in memory: a wake-up by anything else costs the waiter no round trip. Commits
        after ``after_seq`` that the listener cannot have heard (it began listening
        later) count as work: a claim that then finds nothing is the price. The seq
        returned is one the listener heard, or the counter it read on (re)connecting:
        either way every commit up to it had committed, and every later one that makes
        work will be heard."""

        async def work() -> int | None:
            if not self.listening.is_set():  # the server is away: poll
                return last if (last := await self._last_seq()) > after_seq else None
            heard = max(self.work_seq, self._heard_from)
            return heard if heard > after_seq else None

        return await self._wait_until(work, timeout)

    async def _wait_until(
        self, ready: Callable[[], Awaitable[int | None]], timeout: float
    ) -> int | None:
        """Listen, then check ``ready`` on every wake-up (and every ``poll_interval_s``)
        until it gives a seq (returned) or ``timeout`` passes (``None``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiters += 1
        try:
            await self._until_listening(min(timeout, self.connect_timeout_s))
            while True:
                signal = self._committed  # taken before the check: no lost wake-up
                if (seq := await ready()) is not None:
                    return seq
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), min(remaining, self.poll_interval_s))
        finally:
            self._waiters -= 1
            self._last_waited = time.monotonic()

    async def _listen(self) -> None:
        """Keep one LISTEN connection while anyone waits for commits; wake waiters on
        every notification and after every (re)connect (they re-read from their last
        seq, so nothing is missed).

        Listening is on demand: every commit notifies every listener, so a process that
        is busy working (never waiting) would otherwise be woken by each commit of each
        other process — work that grows with the square of the number of workers. After
        ``listen_linger_s`` without a waiter the connection stops listening (``UNLISTEN``)
        and stays open for the next waiter."""
        backoff = 0.05
        while not self._closed:
            await self._wanted.wait()
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=int(self.connect_timeout_s)
                )
                async with conn:
                    while not self._closed:
                        # The counter is read after LISTEN (one simple query, in order):
                        # any commit numbered later will be heard.
                        cur = await conn.execute(
                            "LISTEN baton_events; LISTEN baton_work; "
                            "SELECT last FROM event_counter WHERE id = 1"
                        )
                        while cur.description is None and cur.nextset():
                            pass  # past the two LISTEN results, to the counter's row
                        found = await cur.fetchone()
                        self._heard_from = int(found[0]) if found else 0
                        backoff = 0.05
                        self.listening.set()
                        self._wake()
                        while self._waiters or self._recently_waited():
                            async for note in conn.notifies(timeout=self.listen_linger_s):
                                seq = int(note.payload or 0)
                                if note.channel == "baton_work":
                                    self.work_seq = max(self.work_seq, seq)
                                else:
                                    self.notified_seq = max(self.notified_seq, seq)
                                self._wake()
                        self.listening.clear()  # no await since the check: no waiter missed
                        self._wanted.clear()
                        await conn.execute("UNLISTEN *")
                        await self._wanted.wait()
            except (psycopg.Error, OSError):
                self.listening.clear()
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)

    def _recently_waited(self) -> bool:
        return time.monotonic() - self._last_waited < self.listen_linger_s

    async def _until_listening(self, timeout: float) -> None:
        """Make sure the listener listens before a waiter checks the last seq, so that
        a commit between the check and the wait cannot go unnoticed. If it cannot
        listen in time (server down), the waiter falls back to polling."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())
        if not self.listening.is_set():
            self._wanted.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listening.wait(), timeout)

    def _wake(self) -> None:
        self._committed.set()
        self._committed = asyncio.Event()

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
