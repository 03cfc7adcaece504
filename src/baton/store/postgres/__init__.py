"""The PostgreSQL store: the board for teams that outgrow one machine.

``store`` (the pool, migrations, reads, commit wake-ups), ``tx`` (one write
transaction), ``prepared`` (named queries as prepared statements), ``sql/`` (the
queries and numbered migrations).
"""

from __future__ import annotations

from baton.store.postgres.store import ANALYZE_AFTER_TASKS, SCHEMA_VERSION, PostgresStore

__all__ = ["ANALYZE_AFTER_TASKS", "SCHEMA_VERSION", "PostgresStore"]
