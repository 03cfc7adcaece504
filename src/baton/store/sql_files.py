"""Load named SQL blocks ("-- name: x") and numbered migrations shipped with the package."""

from __future__ import annotations

import re
from importlib.resources import files

from baton.model.errors import BatonRuntimeError

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load_queries(dialect: str) -> dict[str, str]:
    """Every named query of ``dialect``; ``{other}`` inside a query is expanded by name."""
    text = files(f"baton.store.{dialect}").joinpath("sql", "queries.sql").read_text()
    parts = _NAME.split(text)
    raw = {
        name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }
    return {name: body.format(**raw) for name, body in raw.items()}


def load_migrations(dialect: str) -> list[tuple[int, str]]:
    """``(version, sql)`` pairs, in order, from files named ``NNNN_title.sql``."""
    folder = files(f"baton.store.{dialect}").joinpath("sql")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text()))
    found.sort()
    versions = [v for v, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise BatonRuntimeError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return found
