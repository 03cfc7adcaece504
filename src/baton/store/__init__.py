"""The store layer: durable board state and its event log behind one protocol
(:class:`Store`), with two implementations — ``sqlite/`` (embedded) and ``postgres/``
(many machines) — each with its own SQL files and numbered migrations.

A store runs well-defined atomic operations; it knows no policies, retries or reviews.
May import: ``baton.model``.
"""

from __future__ import annotations

from pathlib import Path

from baton.model.errors import InvalidArgument
from baton.store.protocol import Store
from baton.store.sqlite import SqliteStore
from baton.store.transaction import Tx

__all__ = ["SqliteStore", "Store", "Tx", "open_store"]


def open_store(url: str | Path, *, create: bool = True) -> Store:
    """A store from a URL: a file path or ``sqlite:///path`` (the embedded default), or
    ``postgresql://…``. With ``create=False`` a SQLite file that does not exist yet is
    refused (:class:`~baton.model.errors.StoreNotFound`) instead of created."""
    text = str(url)
    if text.startswith("sqlite:///"):
        return SqliteStore(text.removeprefix("sqlite:///"), create=create)
    if text.startswith(("postgresql://", "postgres://")):
        from baton.store.postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidArgument(
            f"unsupported store URL scheme {scheme!r}; use a file path, sqlite:///path "
            "or postgresql://user:password@host:port/dbname"
        )
    return SqliteStore(text, create=create)
