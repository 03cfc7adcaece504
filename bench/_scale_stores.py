"""Where bench/scale.py's boards live: an SQLite file in a scratch directory, or a
database on a PostgreSQL server (given by ``BATON_BENCH_PG``/``BATON_TEST_PG``, or a
throwaway cluster started with scripts/pgtest.py's own functions, as the tests do).

A :class:`Target` is one store of one size: the URL ``Board.open`` takes, a raw
connection to the same data (for the raw limits beside Baton's figures) and its size on
disk. Everything Baton-side goes through ``Board.open(target.url)``, the public door.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]

# Table -> the relations that belong to it (SQLite names its implicit indexes itself).
SQLITE_TASK_RELS = ("tasks", "deps")
SQLITE_EVENT_RELS = ("events",)


@dataclass(frozen=True)
class Target:
    """One board's store: ``store`` is "sqlite" or "postgres"; ``url`` is what
    ``Board.open`` takes; ``where`` is the file path or the database name."""

    store: str
    size: int
    url: str
    where: str
    admin_url: str = ""  # PostgreSQL: the server's maintenance database

    def raw(self) -> Any:
        """A plain driver connection to the same data, autocommit (reads only)."""
        if self.store == "sqlite":
            return sqlite3.connect(self.where, isolation_level=None)
        return psycopg.connect(self.url, autocommit=True)


# --- SQLite ---------------------------------------------------------------------------


class SqliteHome:
    """A scratch directory for the SQLite stores, removed at the end."""

    def __init__(self, base: str | None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="baton-scale-", dir=base))

    def target(self, size: int, tag: str = "") -> Target:
        path = self.dir / f"board-{size}{tag}.db"
        return Target("sqlite", size, str(path), str(path))

    def drop(self, target: Target) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(target.where + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def sqlite_sizes(path: str) -> dict[str, int]:
    """Bytes on disk: the file, its WAL, and per table (with its indexes) from the
    ``dbstat`` virtual table, which counts the pages each b-tree really uses."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        tables = dict(
            conn.execute(
                "SELECT s.name, s.tbl_name FROM sqlite_schema s WHERE s.type IN ('table','index')"
            ).fetchall()
        )
        per_tree = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        conn.close()
    out = {"file": Path(path).stat().st_size, "wal": _size(path + "-wal")}
    for name, pages in per_tree:
        table = tables.get(name, name)
        out[f"table:{table}"] = out.get(f"table:{table}", 0) + int(pages)
    return out


def _size(path: str) -> int:
    return Path(path).stat().st_size if Path(path).exists() else 0


# --- PostgreSQL -----------------------------------------------------------------------


def _pgtest() -> Any:
    spec = importlib.util.spec_from_file_location("pgtest", ROOT / "scripts" / "pgtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PgServer:
    """The server to measure on: given by URL, or a throwaway cluster (fsync off, as
    the test clusters are) stopped and removed on exit. Databases made here are dropped."""

    def __init__(self) -> None:
        self.admin_url = os.environ.get("BATON_BENCH_PG") or os.environ.get("BATON_TEST_PG", "")
        self.own: tuple[Any, Path, dict[str, str], Path] | None = None
        self.made: list[str] = []

    def __enter__(self) -> PgServer:
        if not self.admin_url:
            pgtest = _pgtest()
            bindir = pgtest.pg_bin() or pgtest.install()
            if bindir is None:
                raise SystemExit("no PostgreSQL here: set BATON_BENCH_PG to a server URL")
            url, env, root = pgtest.start(bindir)
            self.own = (pgtest, bindir, env, root)
            self.admin_url = url
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.made):
            self.drop_db(name)
        if self.own is not None:
            pgtest, bindir, env, root = self.own
            pgtest.stop(bindir, env, root)

    def url(self, db: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{db}"))

    def target(self, size: int, tag: str = "") -> Target:
        name = f"scale_{size}{tag.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        return Target("postgres", size, self.url(name), name, self.admin_url)

    def drop(self, target: Target) -> None:
        self.drop_db(target.where)

    def drop_db(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.made:
            self.made.remove(name)

    def settings(self) -> dict[str, str]:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "work_mem")
        with psycopg.connect(self.admin_url) as conn:
            return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]


def pg_sizes(url: str) -> dict[str, int]:
    """Bytes on disk: the whole database and each table with its indexes and TOAST
    (``pg_total_relation_size``)."""
    with psycopg.connect(url, autocommit=True) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname = 'public'"
        ).fetchall()
    out = {"database": int(total[0]) if total else 0}
    out.update({f"table:{name}": int(size) for name, size in rows})
    return out


def sizes(target: Target) -> dict[str, int]:
    """The store's bytes on disk, whole and per table."""
    return sqlite_sizes(target.where) if target.store == "sqlite" else pg_sizes(target.url)


def total_bytes(found: dict[str, int]) -> int:
    """The store as a whole: SQLite's file plus WAL, PostgreSQL's database."""
    return found["file"] + found["wal"] if "file" in found else found["database"]
