"""Helpers for the authorization tests: a refused call changes no board state and
leaves exactly one ``access.denied`` event behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import Event, PermissionDenied, SyncBoard


def _state(board: SyncBoard) -> dict[str, Any]:
    return {k: v for k, v in board.snapshot().items() if k not in ("events", "event_counter")}


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
