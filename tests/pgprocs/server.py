"""The throwaway PostgreSQL server that scripts/pgtest.py started: restart it, and look
at its backends.

scripts/pgtest.py exports where the cluster lives (``BATON_TEST_PG_DATA``), its binaries
(``BATON_TEST_PG_BIN``), the user that owns it (``BATON_TEST_PG_USER``, empty when the
tests do not run as root) and the options it was started with (``BATON_TEST_PG_OPTS``).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg

from tests import pg

DATA = os.environ.get("BATON_TEST_PG_DATA", "")
BIN = os.environ.get("BATON_TEST_PG_BIN", "")
USER = os.environ.get("BATON_TEST_PG_USER", "")
OPTS = os.environ.get("BATON_TEST_PG_OPTS", "")

WHY_NO_RESTART = (
    "restarting PostgreSQL needs the cluster scripts/pgtest.py started "
    "(BATON_TEST_PG_DATA/BATON_TEST_PG_BIN); a server given by BATON_TEST_PG alone is not ours"
)


def can_restart() -> bool:
    return bool(pg.SERVER and DATA and BIN)


def as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *cmd] if USER else cmd


def restart(timeout_s: float = 60.0) -> float:
    """``pg_ctl -m fast restart``: every session is cut, the server comes back on the same
    port. Returns the seconds it took (until the server accepts connections again)."""
    started = time.monotonic()
    log = str(Path(DATA).parent / "log")
    cmd = [f"{BIN}/pg_ctl", "-D", DATA, "-m", "fast", "-w", "-t", str(int(timeout_s))]
    subprocess.run(
        as_pg_user([*cmd, "-l", log, "-o", OPTS, "restart"]),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=timeout_s + 10,
    )
    return time.monotonic() - started


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(pg.SERVER, autocommit=True, connect_timeout=5)


def with_app(url: str, name: str) -> str:
    """``url`` whose connections show up as ``name`` in ``pg_stat_activity``."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}application_name={name}"


def backends(app_name: str) -> int:
    """How many server processes serve connections named ``app_name``."""
    with admin() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app_name,)
        ).fetchone()
    assert row is not None
    return int(str(row[0]))


def wait_backends_gone(app_name: str, timeout_s: float = 30.0) -> None:
    """Wait until no server process serves ``app_name`` (a killed client's backends exit
    when they next read from its socket). Retries through a server restart."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            if backends(app_name) == 0:
                return
        except psycopg.OperationalError:
            pass  # the server is restarting: its old backends are going anyway
        if time.monotonic() > deadline:
            raise TimeoutError(f"backends of {app_name} still alive after {timeout_s}s")
        time.sleep(delay)  # polling the server for a state change, not settling
        delay = min(0.05, delay * 2)
