"""Messages and every read: runs, tasks, events, subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from baton._board_core import BoardCore
from baton._effects import Later, append_returned
from baton.errors import (
    InvalidArgument,
    NotFound,
)
from baton.messages import validate_message
from baton.models import Event, Run, RunState, Task
from baton.store import Tx


class ReadOps(BoardCore):
    async def post_message(
        self,
        run_id: str,
        kind: str,
        body: Mapping[str, Any],
        *,
        sender: str,
        to: str | None = None,
        task_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Post a structured message on a run; it is stored as a ``message.<kind>`` event.

        Raises:
            InvalidMessage: unknown kind or a body that breaks the kind's schema.
        """
        content = validate_message(self.message_kinds, kind, body)

        async def write(tx: Tx, now: float) -> Later[Event]:
            if await tx.get_run(run_id) is None:
                raise NotFound("run", run_id)
            if task_id is not None:
                task = await tx.get_task(task_id)
                if task is None:
                    raise NotFound("task", task_id)
                if task.run_id != run_id:
                    raise InvalidArgument(
                        f"task {task_id!r} belongs to run {task.run_id!r}, not {run_id!r}"
                    )
            payload = {"to": to, "body": content}
            return await append_returned(
                tx, run_id, task_id, f"message.{kind}", sender, payload, now
            )

        return await self._write(
            f"post_message {kind} on {run_id}", "event", idempotency_key, write
        )

    # --- reading ---------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> Run:
        run = await self.store.get_run(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def list_runs(self) -> list[Run]:
        return await self.store.list_runs()

    async def get_task(self, task_id: str) -> Task:
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFound("task", task_id)
        return task

    async def tasks(self, run_id: str) -> list[Task]:
        await self.get_run(run_id)
        return await self.store.list_tasks(run_id)

    async def events(
        self, run_id: str | None = None, *, since: int = 0, limit: int = 10_000
    ) -> list[Event]:
        if run_id is not None:
            await self.get_run(run_id)
        return await self.store.read_events(since=since, run_id=run_id, limit=limit)

    async def forget_idempotency(self, *, older_than_s: float = 7 * 86400) -> int:
        """Forget idempotency keys recorded more than ``older_than_s`` ago (a repeat of
        such a call runs again). Keys must outlive any retry of their call; a week is a
        generous default. The orchestrator calls this on every tick."""
        if older_than_s <= 0:
            raise InvalidArgument(f"older_than_s must be positive, got {older_than_s}")
        async with self.store.transaction() as tx:
            return await tx.forget_idempotency(self.clock() - older_than_s)

    async def escalations(self, run_id: str, *, limit: int = 1000) -> list[Event]:
        """The run's escalations (``escalation.*`` events), oldest first."""
        await self.get_run(run_id)
        return await self.store.latest_events(run_id, "escalation.", limit)

    async def messages(self, run_id: str, *, limit: int = 100) -> list[Event]:
        """The run's last ``limit`` structured messages, oldest first."""
        await self.get_run(run_id)
        return await self.store.latest_events(run_id, "message.", limit)

    async def subscribe(
        self,
        *,
        since: int = 0,
        run_id: str | None = None,
        kinds: Sequence[str] = (),
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Every committed event after ``since``, in order, then each new one as it commits.

        Resuming with ``since`` set to the last ``seq`` seen delivers every later event
        exactly once. ``kinds`` keeps events whose kind starts with one of the prefixes.
        With ``idle_timeout``, the iteration ends after that long without a new event.
        """
        last = since
        while True:
            head = await self.store.last_seq()
            batch = await self.store.read_events(since=last, run_id=run_id, limit=1000)
            for event in batch:
                last = event.seq
                if not kinds or event.kind.startswith(tuple(kinds)):
                    yield event
            if batch:
                continue
            last = max(last, head)  # nothing of ours up to head: seq is in commit order
            woke = await self.store.wait_for_commit(
                last, 3600.0 if idle_timeout is None else idle_timeout
            )
            if not woke and idle_timeout is not None:
                return

    async def wait_finished(self, run_id: str, timeout: float) -> Run:
        """Wait until the run is finished or cancelled; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            async for _ in self.subscribe(run_id=run_id, kinds=("run.",)):
                run = await self.get_run(run_id)
                if run.state is not RunState.ACTIVE:
                    return run
        raise AssertionError("unreachable")  # pragma: no cover
