"""Persistence: the Store protocol and its implementations."""

from __future__ import annotations

from pathlib import Path

from baton.errors import InvalidArgument
from baton.store._protocol import Store, Tx
from baton.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store", "Tx", "open_store"]


def open_store(url: str | Path) -> Store:
    """A store from a URL: ``sqlite:///path``, or a plain file path (the default kind)."""
    text = str(url)
    if text.startswith("sqlite:///"):
        return SqliteStore(text.removeprefix("sqlite:///"))
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidArgument(
            f"unsupported store URL scheme {scheme!r} in {text!r}; use a file path or sqlite:///path"
        )
    return SqliteStore(text)
