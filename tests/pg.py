"""The PostgreSQL test server that scripts/pgtest.py started, and fresh databases on it.

Each test gets its own database, copied from a template that already has the schema
(``CREATE DATABASE … TEMPLATE``), which is much cheaper than migrating every time.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg

SERVER = os.environ.get("BATON_TEST_PG", "")
#: One template per pytest-xdist worker: ``CREATE DATABASE … TEMPLATE`` needs the
#: template to itself, and each worker re-creates its own at session start.
TEMPLATE = f"baton_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
WHY_MISSING = (
    "PostgreSQL tests need a server: run them through `make test` (scripts/pgtest.py "
    "starts one) or set BATON_TEST_PG=postgresql://user:password@host:port/db"
)


def url_for(dbname: str) -> str:
    parts = urlsplit(SERVER)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(SERVER, autocommit=True)


def ensure_template() -> None:
    """Create the template database with the current schema (once per session)."""
    from baton.store.postgres import PostgresStore

    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")

    async def migrate() -> None:
        store = PostgresStore(url_for(TEMPLATE))
        await store.last_seq()  # opens the store: applies every migration
        await store.close()

    asyncio.run(migrate())


def fresh_database() -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with _admin() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return url_for(name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
