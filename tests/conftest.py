"""Shared fixtures. Stores are real: SQLite files in a temp dir, and databases on the
PostgreSQL server that ``make test`` starts (scripts/pgtest.py). Every test taking
``store_url`` (or ``board``) runs against both."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from baton import Board, SyncBoard, connect_sync
from tests import pg
from tests.helpers import ManualClock
from tests.http_door import served
from tests.pgprocs import server

BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    if not pg.SERVER and os.environ.get("CI"):
        pytest.exit(f"CI must test PostgreSQL too. {pg.WHY_MISSING}", returncode=1)
    if not pg.SERVER:
        print(f"\n!!! PostgreSQL tests will be SKIPPED: {pg.WHY_MISSING} !!!\n")


#: Modules whose every test runs alone (``serial``), after the parallel part of
#: ``make test``: they cut the shared server's sessions, kill backends by name, move
#: clients between network namespaces, or drive the sequencer by hand — whose horizon,
#: ``pg_snapshot_xmin``, is the whole server's, so another database's open transaction
#: holds it back.
SERIAL_MODULES = {
    "test_pg_faults.py",
    "test_pg_hosts.py",
    "test_pg_chaos.py",
    "test_pg_event_order.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``serial`` what must not share the machine's PostgreSQL server with another
    test: every test that restarts it (the ``restartable`` fixture) and the modules
    above. ``make test`` runs the rest on two xdist workers, then these alone."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "restartable" in fixtures or item.path.name in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(scope="session")
def pg_template() -> bool:
    if not pg.SERVER:
        pytest.skip(pg.WHY_MISSING)
    pg.ensure_template()
    return True


@pytest.fixture
def restartable(pg_template: bool) -> None:
    """The test restarts the server: it needs one that scripts/pgtest.py started."""
    if not server.can_restart():
        pytest.skip(server.WHY_NO_RESTART)


@pytest.fixture
def pg_url(pg_template: bool) -> Iterator[str]:
    """A fresh PostgreSQL database with the Baton schema, dropped after the test."""
    url = pg.fresh_database()
    yield url
    pg.drop_database(url)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty store of each backend kind."""
    if request.param == "sqlite":
        return str(tmp_path_factory.mktemp("sqlite") / "board.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


DOORS = ["local", "http"]


@pytest.fixture(params=DOORS)
def board(
    request: pytest.FixtureRequest, store_url: str, clock: ManualClock
) -> Iterator[SyncBoard]:
    """A blocking board on a fresh store, with a manual clock (advance it to expire
    leases or pass retry backoffs without sleeping): the local Board, and the remote
    Board over HTTP to a real server on a loopback port (sharing the manual clock), so
    that every behaviour test holds through both."""
    if request.param == "local":
        with SyncBoard(Board.open(store_url, clock=clock)) as b:
            yield b
        return
    with served(store_url, clock=clock) as door, connect_sync(door.url, door.owner_token) as b:
        yield b
