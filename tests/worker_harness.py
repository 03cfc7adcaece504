"""Running a real :class:`~baton.runtime.worker.Worker` on a real board until something happens.

No sleeps: the worker runs until its run ends (``Worker.run(run_id=...)`` returns), or
until an event the test is waiting for is committed, and everything is bounded by a
timeout so that a broken agent fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from baton import Board, Event, Task, TaskState
from baton.runtime.worker import AgentsLike, Worker


async def work(
    board: Board,
    agents: AgentsLike,
    run_id: str,
    *,
    until: Callable[[Event], bool] | None = None,
    timeout: float = 20.0,
    name: str = "w1",
    **worker_options: Any,
) -> Worker:
    """Run a worker on ``run_id`` until the run finishes (or is cancelled), or until an
    event for which ``until`` is true is committed; ``TimeoutError`` after ``timeout``."""
    worker_options.setdefault("idle_wait_s", 0.05)
    worker_options.setdefault("grace_s", 5.0)
    worker = Worker(board, agents, name=name, **worker_options)
    stop = asyncio.Event()

    async def watch() -> None:
        assert until is not None
        async for event in board.subscribe(run_id=run_id):
            if until(event):
                stop.set()
                return

    watcher = asyncio.create_task(watch()) if until is not None else None
    try:
        await asyncio.wait_for(worker.run(run_id=run_id, stop=stop), timeout)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    return worker


def kind_is(*kinds: str) -> Callable[[Event], bool]:
    """``until=`` for the first event of one of ``kinds``."""
    return lambda event: event.kind in kinds


async def the_task(board: Board, run_id: str, key: str = "t") -> Task:
    """The task with plan id ``key`` in the run."""
    for task in await board.tasks(run_id):
        if task.key == key:
            return task
    raise AssertionError(f"no task {key!r} in run {run_id}")


async def retried_once(board: Board, run_id: str, key: str = "t") -> Task:
    """The task, after checking that its one failed attempt sent it back to ``ready``
    with an error recorded and nothing landed."""
    t = await the_task(board, run_id, key)
    assert (t.state, t.failures, t.output) == (TaskState.READY, 1, None)
    assert t.last_error is not None
    return t


async def task_events(board: Board, task_id: str, prefix: str = "task.") -> list[Event]:
    """Every event about the task whose kind starts with ``prefix``, in order."""
    run_id = task_id.split("/", 1)[0]
    return [
        e for e in await board.events(run_id) if e.task_id == task_id and e.kind.startswith(prefix)
    ]
