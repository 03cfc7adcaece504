"""Helpers for the authorization tests: a refused call changes no board state and
leaves exactly one ``access.denied`` event behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import Event, NotFound, PermissionDenied, SyncBoard
from tests.conformance._util import over_http
from tests.helpers import EVENT_TABLES


def _state(board: SyncBoard) -> dict[str, Any]:
    return {k: v for k, v in board.snapshot().items() if k not in EVENT_TABLES}


def denied(board: SyncBoard, call: Callable[..., Any], *args: Any, **kw: Any) -> PermissionDenied:
    """Call as an unprivileged participant; expect :class:`PermissionDenied`, the store's
    state unchanged, and the refusal recorded (``board`` is the owner's view)."""
    before, seq = _state(board), board.last_seq()
    with pytest.raises(PermissionDenied) as info:
        call(*args, **kw)
    assert _state(board) == before, "a refused call changed the board"
    new = board.events(since=seq)
    assert [e.kind for e in new] == ["access.denied"], [e.kind for e in new]
    record: Event = new[0]
    assert record.actor == info.value.participant
    assert record.payload["missing"] == info.value.missing
    return info.value


def hidden(
    board: SyncBoard, run_id: str, call: Callable[..., Any], /, *args: Any, **kw: Any
) -> None:
    """A call on a run the participant may not see: :class:`PermissionDenied` from the
    local Board; over HTTP the run is answered as not there (:class:`NotFound`, 404),
    so that its existence does not leak. Either way nothing changes and the refusal is
    recorded."""
    if not over_http(board):
        error = denied(board, call, *args, **kw)
        assert error.run_id == run_id
        return
    before, seq = _state(board), board.last_seq()
    with pytest.raises(NotFound) as info:
        call(*args, **kw)
    assert (info.value.kind, info.value.ident) == ("run", run_id)
    assert _state(board) == before, "a refused call changed the board"
    assert [e.kind for e in board.events(since=seq)] == ["access.denied"]
