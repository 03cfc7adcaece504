"""Every read: runs, tasks, events, subscriptions, and what the runtime needs to wait
on the board (the last seq, the next commit, recent events, the last progress)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from difflib import get_close_matches
from typing import Any

from baton.board.authorization import require_every_run, require_grant
from baton.board.core import BoardCore
from baton.model import Event, Run, RunState, Task
from baton.model.errors import (
    InvalidArgument,
    NotFound,
)
from baton.model.events import ESCALATION_PREFIX
from baton.model.limits import MAX_ROWS, check_count, check_id, check_text, lookup_id, safe_repr
from baton.model.participants import Grant, Principal
from baton.model.turns import turn_key


class ReadService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def get_run(self, run_id: str, action: str = "read") -> Run:
        """The run, if the acting principal may see it (every read of a run's contents
        starts here)."""
        return await self.core.read(lambda who: self.core.visible_run(who, run_id, action))

    async def list_runs(self) -> list[Run]:
        async def read(who: Principal) -> list[Run]:
            runs = await self.core.store.list_runs()
            return runs if who.owner else [r for r in runs if who.sees_run(r.id, r.created_by)]

        return await self.core.read(read)

    async def get_task(self, task_id: str) -> Task:
        task = await self.core.store.get_task(lookup_id("task", task_id))
        if task is None:
            raise NotFound("task", task_id)
        if not self.core.principal.owner:
            await self.get_run(task.run_id, f"read task {task_id} of")
        return task

    async def tasks(self, run_id: str) -> list[Task]:
        await self.get_run(run_id)
        return await self.core.store.list_tasks(run_id)

    async def count_by_state(self, run_id: str) -> dict[str, int]:
        await self.get_run(run_id)
        return await self.core.store.count_by_state(run_id)

    async def ready_by_role(self, run_id: str) -> dict[str, int]:
        await self.get_run(run_id)
        return await self.core.store.ready_by_role(run_id)

    async def watched_tasks(self, run_id: str, *, review_rounds_at_least: int) -> list[Task]:
        await self.get_run(run_id)
        check_count("review_rounds_at_least", review_rounds_at_least)
        return await self.core.store.watched_tasks(run_id, review_rounds_at_least)

    async def events(
        self, run_id: str | None = None, *, since: int = 0, limit: int = 10_000
    ) -> list[Event]:
        check_count("since", since)
        check_count("limit", limit, low=1, high=MAX_ROWS)
        await self.check_scope(run_id, "read events of")
        return await self.core.store.read_events(since=since, run_id=run_id, limit=limit)

    async def check_scope(self, run_id: str | None, action: str) -> None:
        """A read of one run's events (which must be visible) or of every run's."""
        if run_id is not None:
            await self.get_run(run_id, action)
        elif not self.core.principal.owner:

            async def every(who: Principal) -> None:
                require_every_run(who, f"{action} every run")

            await self.core.read(every)

    async def forget_idempotency(self, *, older_than_s: float = 7 * 86400) -> int:
        if older_than_s <= 0:
            raise InvalidArgument(f"older_than_s must be positive, got {older_than_s}")
        await self.core.verify()  # housekeeping any participant's worker may do
        async with self.core.store.transaction() as tx:
            return await tx.forget_idempotency(self.core.clock() - older_than_s)

    async def escalations(self, run_id: str, *, limit: int = 1000) -> list[Event]:
        check_count("limit", limit, low=1, high=MAX_ROWS)
        await self.get_run(run_id)
        return await self.core.store.latest_events(run_id, ESCALATION_PREFIX, limit)

    async def recent_events(
        self, run_id: str, *, kind_prefix: str = "", limit: int = 500
    ) -> list[Event]:
        await self.get_run(run_id)
        check_text("kind_prefix", kind_prefix)
        check_count("limit", limit, low=1, high=MAX_ROWS)
        return await self.core.store.latest_events(run_id, kind_prefix, limit)

    async def last_progress(self, run_id: str) -> tuple[int, float] | None:
        await self.get_run(run_id)
        return await self.core.store.last_progress(run_id)

    async def last_seq(self) -> int:
        await self.core.verify()
        return await self.core.store.last_seq()

    async def wait_for_change(self, after_seq: int, timeout: float) -> bool:
        return await self.core.store.wait_for_commit(after_seq, timeout)

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        return await self.core.store.wait_for_work(after_seq, timeout)

    def idle_turn(
        self, roles: Sequence[str], *, run_id: str | None, timeout: float
    ) -> AbstractAsyncContextManager[bool]:
        return self.core.store.idle_turn(turn_key_of(self.core.principal, roles, run_id), timeout)

    async def similar_ids(self, kind: str, ident: str, *, limit: int = 3) -> list[str]:
        """Ids of ``kind`` ("run" or "task") on this board that look like ``ident``: for
        "did you mean …?" when a lookup failed. A task key given without its run
        (``draft`` for ``mr1/draft``) finds the tasks of that key in the latest runs."""
        check_count("limit", limit, low=1, high=100)
        if not isinstance(ident, str) or not isinstance(kind, str):
            raise InvalidArgument("similar_ids takes a kind and an id, both text")
        runs = await self.list_runs()  # only what the acting principal may see
        if kind == "run":
            return get_close_matches(ident, [r.id for r in runs], n=limit, cutoff=0.5)
        if kind != "task":
            return []
        run_part, _, key = ident.rpartition("/")
        if run_part:
            run_ids = [r.id for r in runs if r.id == run_part]
            run_ids = run_ids or get_close_matches(run_part, [r.id for r in runs], n=2)
        else:
            key, run_ids = ident, [r.id for r in runs[-20:]]
        found: list[str] = []
        for run_id in run_ids:
            tasks = await self.core.store.list_tasks(run_id)
            found += [t.id for t in tasks if t.key == key]
            found += [
                f"{run_id}/{k}" for k in get_close_matches(key, [t.key for t in tasks], n=limit)
            ]
        return list(dict.fromkeys(found))[:limit]

    async def backup(self, destination: str) -> int:
        await self._admin("back up the store")
        return await self.core.store.backup(destination)

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        await self._admin("snapshot the store")
        return await self.core.store.snapshot()

    async def _admin(self, action: str) -> None:
        async def check(who: Principal) -> None:
            require_grant(who, Grant.ADMIN, action)

        await self.core.read(check)

    async def subscribe(
        self,
        *,
        since: int = 0,
        run_id: str | None = None,
        kinds: Sequence[str] = (),
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Event, None]:
        check_count("since", since)
        await self.check_scope(run_id, "follow events of")
        last = since
        while True:
            head = await self.last_seq()
            batch = await self.core.store.read_events(since=last, run_id=run_id, limit=1000)
            for event in batch:
                last = event.seq
                if not kinds or event.kind.startswith(tuple(kinds)):
                    yield event
            if batch:
                continue
            last = max(last, head)  # nothing of ours up to head: seq is in commit order
            woke = await self.wait_for_change(
                last, 3600.0 if idle_timeout is None else idle_timeout
            )
            if not woke and idle_timeout is not None:
                return

    async def wait_finished(self, run_id: str, timeout: float) -> Run:
        return await self._wait_run(run_id, timeout, lambda run: run.state is not RunState.ACTIVE)

    async def wait_ended(self, run_id: str, *, timeout: float | None = None) -> Run:
        return await self._wait_run(run_id, timeout, lambda run: run.ended)

    async def _wait_run(
        self, run_id: str, timeout: float | None, done: Callable[[Run], bool]
    ) -> Run:
        async with asyncio.timeout(timeout):
            async for _ in self.subscribe(run_id=run_id, kinds=("run.",)):
                run = await self.get_run(run_id)
                if done(run):
                    return run
        raise AssertionError("unreachable")  # pragma: no cover


def turn_key_of(who: Principal, roles: Sequence[str], run_id: str | None) -> str:
    """The idle turn of ``who``'s workers for ``roles`` in ``run_id``: checked like a
    claim's, since a turn stands for the claims its holder will make."""
    if isinstance(roles, str) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise InvalidArgument(
            f"an idle turn needs a list of non-empty roles, got {safe_repr(roles)}"
        )
    if run_id is not None:
        check_id("run", run_id)
    return turn_key("" if who.owner else who.id, roles, run_id)
