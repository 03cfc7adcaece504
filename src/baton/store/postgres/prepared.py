"""Named queries as server-side prepared statements, bound client-side.

A transaction sends several statements in one simple query (see
:class:`~baton.store.postgres.tx.PgTx`); the simple-query protocol takes no separate
parameters, so each statement is ``EXECUTE baton_<name>(<literals>)`` with the literals
bound by psycopg's ``mogrify``. Every pooled connection prepares them all once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from baton.store.sql_files import load_queries

Row = tuple[Any, ...]
Params = Sequence[Any] | Mapping[str, Any]

QUERIES = load_queries("postgres")


class _Prepared:
    """Every named query as a server-side prepared statement, run by ``EXECUTE``.

    A transaction sends several statements in one simple query (see :class:`PgTx`),
    and the simple-query protocol takes no separate parameters; ``EXECUTE name(<bound
    literals>)`` keeps the plans prepared once per connection all the same."""

    _PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
    _STATEMENT = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)

    def __init__(self, queries: dict[str, str]) -> None:
        self.prepare: list[str] = []
        self.templates: dict[str, str] = {}  # query name -> EXECUTE with placeholders
        for name, sql in queries.items():
            if self._STATEMENT.match(_strip_comments(sql)):
                text, args = self._numbered(sql)
                self.prepare.append(f"PREPARE baton_{name} AS {text}")
                call = f"EXECUTE baton_{name}"
                self.templates[name] = f"{call}({', '.join(args)})" if args else call

    def execute(self, binder: psycopg.AsyncClientCursor[Row], query: str, params: Params) -> str:
        """``EXECUTE baton_<query>(...)`` with ``params`` bound as literals by psycopg."""
        return binder.mogrify(self.templates[query], params)

    @classmethod
    def _numbered(cls, sql: str) -> tuple[str, list[str]]:
        """``sql`` with ``$n`` for its placeholders, and the ``EXECUTE`` arguments that
        bind them in order (``%s`` each, or ``%(name)s`` once per name)."""
        args: list[str] = []
        named: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            if match.group(0) == "%%":
                return "%"
            name = match.group(1)
            if name is None:
                args.append("%s")
                return f"${len(args)}"
            if name not in named:
                args.append(f"%({name})s")
                named[name] = len(args)
            return f"${named[name]}"

        return cls._PLACEHOLDER.sub(number, sql), args


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


PREPARED = _Prepared(QUERIES)
