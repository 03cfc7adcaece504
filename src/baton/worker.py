"""A worker: claims tasks for the roles its handlers serve, keeps the lease alive while a
handler runs, and hands the result back with the lease's fencing token.

Work is pulled, never pushed: a worker that dies simply stops renewing its leases, the
reaper returns its tasks to ``ready``, and another worker takes them — whatever it had
not submitted is redone, and whatever it submits late is refused (``LeaseLost``).

A handler is any callable (sync or async) taking the :class:`Task`. For a work lease it
returns the output; for a review lease (the worker serves the task's reviewer role) it
returns a :class:`Verdict`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from baton.board import Board
from baton.errors import ContractViolation, LeaseLost
from baton.models import Lease, LeaseKind, RunState, Task

log = logging.getLogger("baton.worker")

Handler = Callable[[Task], Any] | Callable[[Task], Awaitable[Any]]


class Verdict(BaseModel):
    """A reviewer's decision: approve, or reject with the issues to fix."""

    approve: bool
    feedback: list[str] = []
    comment: str = ""


class Worker:
    """Runs ``handlers`` (role → callable) against the board, ``concurrency`` at a time."""

    def __init__(
        self,
        board: Board,
        handlers: Mapping[str, Handler],
        *,
        name: str,
        concurrency: int = 1,
        idle_wait_s: float = 0.5,
    ) -> None:
        if not handlers:
            raise ValueError("a worker needs at least one role handler")
        self.board = board
        self.handlers = dict(handlers)
        self.name = name
        self.concurrency = concurrency
        self.idle_wait_s = idle_wait_s
        self.completed = 0

    async def run(self, *, run_id: str | None = None, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set, or until the run ``run_id`` is no longer active."""
        stop = stop or asyncio.Event()
        slots = [asyncio.create_task(self._slot(i, run_id, stop)) for i in range(self.concurrency)]
        await asyncio.gather(*slots)

    async def _slot(self, index: int, run_id: str | None, stop: asyncio.Event) -> None:
        me = f"{self.name}#{index}" if self.concurrency > 1 else self.name
        while not stop.is_set():
            if (
                run_id is not None
                and (await self.board.get_run(run_id)).state is not RunState.ACTIVE
            ):
                return
            head = await self.board.store.last_seq()
            lease = await self.board.claim(me, list(self.handlers), run_id=run_id)
            if lease is None:
                await self.board.reap_expired(actor=me)
                await self.board.store.wait_for_commit(head, self.idle_wait_s)
                continue
            await self._work(lease)

    async def _work(self, lease: Lease) -> None:
        task = lease.task
        role = task.role if lease.kind is LeaseKind.WORK else task.reviewer_role
        handler = self.handlers[role or task.role]
        beat = asyncio.create_task(self._heartbeat(lease))
        try:
            result = await _call(handler, task)
        except Exception as exc:  # the agent's failure is data, recorded on the board
            beat.cancel()
            log.warning("%s: task %s raised %r", lease.owner, task.id, exc)
            with contextlib.suppress(LeaseLost):
                await self.board.fail(
                    task.id,
                    lease.token,
                    {"kind": "exception", "type": type(exc).__name__, "message": str(exc)},
                    participant=lease.owner,
                )
            return
        finally:
            beat.cancel()
        try:
            if lease.kind is LeaseKind.REVIEW:
                verdict = result if isinstance(result, Verdict) else Verdict.model_validate(result)
                if verdict.approve:
                    await self.board.approve(
                        task.id, actor=lease.owner, token=lease.token, comment=verdict.comment
                    )
                else:
                    await self.board.reject(
                        task.id, verdict.feedback, actor=lease.owner, token=lease.token
                    )
            else:
                await self.board.submit(task.id, lease.token, result, participant=lease.owner)
            self.completed += 1
        except LeaseLost as exc:
            log.warning("%s: dropped result for %s: %s", lease.owner, task.id, exc)
        except ContractViolation as exc:
            log.warning("%s: %s", lease.owner, exc)

    async def _heartbeat(self, lease: Lease) -> None:
        interval = max(0.05, lease.task.lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.board.heartbeat(lease.task.id, lease.token, lease.owner)
            except LeaseLost:
                return


async def _call(handler: Handler, task: Task) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(task)
    result = await asyncio.to_thread(handler, task)
    if inspect.isawaitable(result):
        return await result
    return result
