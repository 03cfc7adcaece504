"""Helpers for the conformance suite. Everything goes through the public board API."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from baton import Event, Lease, RemoteBoard, Run, SyncBoard, Task, TaskState
from baton.interfaces.http.transport import unsendable as unsendable_json

E = TypeVar("E", bound=BaseException)


@contextmanager
def unchanged(board: SyncBoard) -> Iterator[None]:
    """Assert that nothing in the store changed inside the block."""
    before = board.snapshot()
    yield
    assert board.snapshot() == before, "the store changed"


def refused(board: SyncBoard, error: type[E], call: Callable[..., Any], *args: Any, **kw: Any) -> E:
    """Call, expect exactly ``error`` (not a subclass), and prove nothing was written."""
    with unchanged(board), pytest.raises(error) as info:
        call(*args, **kw)
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value)!r}"
    return info.value


def over_http(board: SyncBoard) -> bool:
    """The board is the remote one (the ``http`` door of the ``board`` fixture)."""
    return isinstance(board.board, RemoteBoard)


def unsendable(board: SyncBoard, value: Any) -> bool:
    """``value`` cannot travel as JSON at all (a set, an object, a non-string key, a
    nest too deep to encode): over HTTP the client refuses it before sending, with
    :class:`InvalidArgument`, and the store is untouched all the same."""
    return over_http(board) and unsendable_json(value, 68) is not None


def tid(run: Run, key: str) -> str:
    """The global id of the plan-local task ``key`` in ``run``."""
    return f"{run.id}/{key}"


def claim(
    board: SyncBoard, participant: str = "w1", roles: Sequence[str] = ("worker",), **kw: Any
) -> Lease:
    """Claim, insisting that something was claimable."""
    lease = board.claim(participant, list(roles), **kw)
    assert lease is not None, f"{participant} found nothing to claim for {list(roles)}"
    return lease


def claim_key(
    board: SyncBoard, key: str, participant: str = "w1", roles: Sequence[str] = ("worker",)
) -> Lease:
    lease = claim(board, participant, roles)
    assert lease.task.key == key, f"claimed {lease.task.key!r}, expected {key!r}"
    return lease


def finish(board: SyncBoard, lease: Lease, output: Any = None) -> Task:
    """Submit ``output`` (default ``{"ok": True}``) as the lease holder."""
    out = {"ok": True} if output is None else output
    return board.submit(lease.task.id, lease.token, out, participant=lease.owner)


def states(board: SyncBoard, run: Run) -> dict[str, TaskState]:
    return {t.key: t.state for t in board.tasks(run.id)}


def tasks_by_key(board: SyncBoard, run: Run) -> dict[str, Task]:
    return {t.key: t for t in board.tasks(run.id)}


def last_seq(board: SyncBoard) -> int:
    events = board.events()
    return events[-1].seq if events else 0


def event_kinds(events: Sequence[Event]) -> list[tuple[str, str | None]]:
    """``(kind, plan-local task key or None)`` of each event."""
    return [(e.kind, e.task_id.split("/", 1)[1] if e.task_id else None) for e in events]
