"""The embedded SQLite store: one file, many processes, no server."""

from __future__ import annotations

from baton.store.sqlite.store import SCHEMA_VERSION, Durability, SqliteStore

__all__ = ["SCHEMA_VERSION", "Durability", "SqliteStore"]
