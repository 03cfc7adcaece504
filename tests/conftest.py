"""Shared fixtures. Stores are real: SQLite files in a temp dir (PostgreSQL joins in a
later issue through the same ``store_url`` parameter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from baton import Board, SyncBoard
from tests.helpers import ManualClock

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty store of each backend kind."""
    return str(tmp_path_factory.mktemp(request.param) / "board.db")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def board(store_url: str, clock: ManualClock) -> Iterator[SyncBoard]:
    """A blocking board on a fresh store, with a manual clock (advance it to expire
    leases or pass retry backoffs without sleeping)."""
    with SyncBoard(Board.open(store_url, clock=clock)) as b:
        yield b
