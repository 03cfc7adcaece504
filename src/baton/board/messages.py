"""Structured messages on a run: posting one (checked against its kind's schema) and
reading the latest. A message is a ``message.<kind>`` event, so it is ordered, durable
and seen by every subscriber, like any other change on the board."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.board.authorization import require_grant, require_run, require_self
from baton.board.core import BoardCore, seen_run
from baton.board.escalations import append_returned
from baton.board.transitions import Later
from baton.model import Briefing, Event
from baton.model.errors import InvalidArgument, NotFound
from baton.model.events import MESSAGE_PREFIX, message_kind
from baton.model.limits import MAX_ROWS, check_count, check_json, check_name, lookup_id
from baton.model.messages import validate_message
from baton.model.participants import Grant, Principal
from baton.store import Tx


class MessageService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

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
        check_name("sender", sender)
        check_json(f"the body of a {kind!r} message", body, limits=self.core.limits)
        content = validate_message(self.core.message_kinds, kind, body)

        async def write(tx: Tx, now: float, who: Principal) -> Later[Event]:
            run = await tx.get_run(lookup_id("run", run_id))
            if run is None:
                raise NotFound("run", run_id)
            require_self(who, sender, "post messages", run_id=run_id)
            require_run(who, run, "post messages on")
            if kind == "answer":
                require_grant(who, Grant.ANSWER, "answer questions and escalations", run_id=run_id)
            if task_id is not None:
                task = await tx.get_task(lookup_id("task", task_id))
                if task is None:
                    raise NotFound("task", task_id)
                if task.run_id != run_id:
                    raise InvalidArgument(
                        f"task {task_id!r} belongs to run {task.run_id!r}, not {run_id!r}"
                    )
            payload = {"to": to, "body": content}
            return await append_returned(
                tx, run_id, task_id, message_kind(kind), sender, payload, now
            )

        return await self.core.write(
            f"post_message {kind} on {run_id}", "event", idempotency_key, write
        )

    async def messages(self, run_id: str, *, limit: int = 100) -> list[Event]:
        check_count("limit", limit, low=1, high=MAX_ROWS)

        async def read(who: Principal) -> list[Event]:
            if not who.owner:
                await self.core.visible_run(who, run_id, "read messages of")
            store = self.core.store
            found = await store.latest_events(lookup_id("run", run_id), MESSAGE_PREFIX, limit)
            if not found and await store.get_run(run_id) is None:  # asked only then
                raise NotFound("run", run_id)
            return found

        return await self.core.read(read)

    async def briefing(
        self, run_id: str, *, messages: int = 50, dependencies: Sequence[str] = ()
    ) -> Briefing:
        check_count("messages", messages, low=1, high=MAX_ROWS)
        if isinstance(dependencies, str):
            raise InvalidArgument("dependencies is a list of task ids, not one id")
        wanted = [lookup_id("task", t) for t in dependencies]
        check_count("dependencies", len(wanted), low=0, high=MAX_ROWS)

        async def read(who: Principal) -> Briefing:
            run, found, tasks = await self.core.store.read_briefing(
                lookup_id("run", run_id), MESSAGE_PREFIX, messages, wanted
            )
            # Read together; nothing is returned unless the run may be seen.
            seen = seen_run(who, run_id, run, "read the briefing of")
            by_id = {t.id: t for t in tasks if t.run_id == run_id}
            missing = [t for t in wanted if t not in by_id]
            if missing:
                raise NotFound("task", ", ".join(missing))
            return Briefing(run=seen, messages=found, dependencies=[by_id[t] for t in wanted])

        return await self.core.read(read)
