"""The door's event reads: where a stream resumes, JSON pages (with filters and the
cursor past what they skipped), and the Server-Sent Events stream driven by the
store's commit wake-up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from baton.board import Board
from baton.interfaces.http.problems import problem
from baton.model import Event
from baton.model.errors import BatonError, UsageError


def resume_point(after: int | None, last_event_id: str | None) -> int:
    """Where a stream starts: ``?after=`` wins, else ``Last-Event-ID``, else 0. A
    ``Last-Event-ID`` that is not a seq is refused (400) rather than restarted."""
    if after is not None:
        return after
    if last_event_id is None or last_event_id.strip() == "":
        return 0
    text = last_event_id.strip()
    if not text.isdigit() or len(text) > 19:
        raise UsageError(f"Last-Event-ID {text[:40]!r} is not an event seq (a whole number ≥ 0)")
    return int(text)


def matches(event: Event, tasks: set[str], kinds: tuple[str, ...]) -> bool:
    if tasks and event.task_id not in tasks:
        return False
    return not kinds or event.kind.startswith(kinds)


async def page(
    b: Board, run_id: str | None, start: int, limit: int, tasks: set[str], kinds: tuple[str, ...]
) -> tuple[list[Event], int]:
    """Up to ``limit`` matching events after ``start``, and the seq the read got to
    (past the last match when filters skipped events after it)."""
    if not tasks and not kinds:
        page = await b.events(run_id, since=start, limit=limit)
        return page, page[-1].seq if page else start
    found: list[Event] = []
    cursor = start
    while True:
        batch = await b.events(run_id, since=cursor, limit=1000)
        for event in batch:
            cursor = event.seq
            if matches(event, tasks, kinds):
                found.append(event)
                if len(found) == limit:
                    return found, cursor
        if len(batch) < 1000:
            return found, cursor


def sse_frame(event: Event, *, named: bool = True) -> bytes:
    """One event as a Server-Sent Events frame: ``id`` is the seq, ``event`` the kind
    (unless not ``named``: a browser's ``onmessage`` sees only unnamed frames, and the
    kinds are open-ended, so the web board takes them unnamed)."""
    data = event.model_dump_json()
    name = f"event: {event.kind}\n" if named else ""
    return f"id: {event.seq}\n{name}data: {data}\n\n".encode()


async def sse(
    b: Board,
    run_id: str | None,
    start: int,
    tasks: set[str],
    kinds: tuple[str, ...],
    keepalive_s: float,
    *,
    named: bool = True,
    still_valid: Callable[[], bool] = lambda: True,
) -> AsyncIterator[bytes]:
    """The live stream: every matching event after ``start``, in seq order, each once;
    then wait on the store's commit wake-up, with a keep-alive comment when idle.
    Each page is a Board read, so a revoked token ends the stream at the next one."""
    yield b"retry: 1000\n: baton event stream\n\n"
    cursor = start
    while still_valid():
        try:
            head = await b.last_seq()
            batch = await b.events(run_id, since=cursor, limit=500)
        except BatonError as error:
            yield f"event: error\ndata: {json.dumps(problem(error)[1])}\n\n".encode()
            return
        for event in batch:
            cursor = event.seq
            if matches(event, tasks, kinds):
                yield sse_frame(event, named=named)
        if batch:
            continue
        cursor = max(cursor, head)  # seq is in commit order: nothing of ours up to head
        if not await b.wait_for_change(cursor, keepalive_s):
            yield b": keep-alive\n\n"
        await asyncio.sleep(0)
