"""The raw limits beside bench/scale.py's Baton figures, on the very same store.

* ``seek``: the smallest query that finds the next claimable task, ``SELECT id FROM
  tasks WHERE queue_role = ? ORDER BY priority DESC, created_seq LIMIT 1``: one descent
  of the claim index. Its growth with the board is what a b-tree costs (logarithmic),
  so a Baton claim growing faster than it is Baton's own doing.
* ``find``: Baton's own ``find_claimable`` query (loaded by name from the store's
  queries.sql, so it is exactly what the store runs) through the bare driver: the query
  without the Board, the transaction, the update and the events.
* ``page``: Baton's ``read_run_events`` query through the bare driver, page by page,
  rows left as tuples: the read limit of ``Board.events`` paging.

All reads, in autocommit: nothing here changes the board.
"""

from __future__ import annotations

import time
from typing import Any

from _scale_stores import Target

from baton.store.sql_files import load_queries

ROLE = "worker"
SEEK = {
    "sqlite": "SELECT id FROM tasks WHERE queue_role = ?"
    " ORDER BY priority DESC, created_seq LIMIT 1",
    "postgres": "SELECT id FROM tasks WHERE queue_role = %s"
    " ORDER BY priority DESC, created_seq LIMIT 1",
}


def _queries(store: str) -> dict[str, str]:
    return load_queries("sqlite" if store == "sqlite" else "postgres")


def timed_reads(conn: Any, sql: str, params: tuple[Any, ...], n: int) -> list[float]:
    """Seconds per execution (with its first row fetched), ``n`` times."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn.execute(sql, params).fetchone()
        out.append(time.perf_counter() - start)
    return out


def seek_samples(target: Target, n: int) -> list[float]:
    conn = target.raw()
    try:
        timed_reads(conn, SEEK[target.store], (ROLE,), 20)  # warm the connection's cache
        return timed_reads(conn, SEEK[target.store], (ROLE,), n)
    finally:
        conn.close()


def find_samples(target: Target, n: int) -> list[float]:
    conn = target.raw()
    sql = _queries(target.store)["find_claimable"]
    try:
        params = (ROLE, time.time(), "")
        timed_reads(conn, sql, params, 20)
        return timed_reads(conn, sql, params, n)
    finally:
        conn.close()


def page_all(target: Target, run_id: str, page: int) -> tuple[int, float]:
    """(events read, seconds) paging the run's whole log with the store's own query."""
    conn = target.raw()
    sql = _queries(target.store)["read_run_events"]
    count, since = 0, 0
    try:
        start = time.perf_counter()
        while True:
            rows = conn.execute(sql, (run_id, since, page)).fetchall()
            count += len(rows)
            if len(rows) < page:
                return count, time.perf_counter() - start
            since = rows[-1][0]
    finally:
        conn.close()


def explain(target: Target, name: str, params: tuple[Any, ...]) -> str:
    """The plan of Baton's named query ``name`` on this store, as the database reports
    it: ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL (the query really runs; in
    autocommit its row locks end with it), ``EXPLAIN QUERY PLAN`` on SQLite."""
    sql = _queries(target.store)[name]
    conn = target.raw()
    try:
        if target.store == "sqlite":
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            return "\n".join(str(r[-1]) for r in rows)
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
        return "\n".join(str(r[0]) for r in rows)
    finally:
        conn.close()


# --- experiments: where a cost grows, the query as it is against a candidate fix ------


def boxed_reads(conn: Any, sql: str, params: tuple[Any, ...], n: int, budget_s: float) -> Any:
    """Up to ``n`` timed executions (all rows fetched) or ``budget_s`` seconds, after one
    untimed; ``{"n", "p50_ms", "p99_ms", "first_ms"}``."""
    start = time.perf_counter()
    conn.execute(sql, params).fetchall()
    first = time.perf_counter() - start
    out: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(out) < n and (not out or time.perf_counter() < deadline):
        start = time.perf_counter()
        conn.execute(sql, params).fetchall()
        out.append(time.perf_counter() - start)
    ordered = sorted(out)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] * 1e3

    return {"n": len(out), "p50_ms": q(0.5), "p99_ms": q(0.99), "first_ms": first * 1e3}


def plan_text(conn: Any, store: str, sql: str, params: tuple[Any, ...]) -> str:
    if store == "sqlite":
        return "\n".join(str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def _mark(store: str, sql: str) -> str:
    return sql if store == "sqlite" else sql.replace("?", "%s")


def _timed_exec(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> float:
    start = time.perf_counter()
    conn.execute(sql, params)
    return time.perf_counter() - start


#: Candidate A for a claim with no run_id: one descent of the per-run claim index for
#: each active run, the best of them taken (ids only: the plan is what is compared).
PER_ACTIVE_RUN = {
    "sqlite": "SELECT t.id FROM runs r JOIN tasks t ON t.id = ("
    " SELECT x.id FROM tasks x WHERE x.run_id = r.id AND x.queue_role = ? AND x.not_before <= ?"
    " AND (x.state <> 'in_review' OR x.worked_by IS NULL OR x.worked_by <> ?)"
    " ORDER BY x.priority DESC, x.created_seq LIMIT 1)"
    " WHERE r.state = 'active' ORDER BY t.priority DESC, t.created_seq LIMIT 1",
    "postgres": "SELECT c.id FROM runs r CROSS JOIN LATERAL ("
    " SELECT x.id, x.priority, x.created_seq FROM tasks x WHERE x.run_id = r.id"
    " AND x.queue_role = %s AND x.not_before <= %s"
    " AND (x.state <> 'in_review' OR x.worked_by IS NULL OR x.worked_by <> %s)"
    " ORDER BY x.priority DESC, x.created_seq LIMIT 1) c"
    " WHERE r.state = 'active' ORDER BY c.priority DESC, c.created_seq LIMIT 1",
}


def paused_experiment(target: Target, big_run: str, n: int, budget_s: float) -> dict[str, Any]:
    """With ``big_run`` paused and a small run active: Baton's ``find_claimable`` as it
    is; candidate A (``PER_ACTIVE_RUN``); candidate B, the paused run's tasks taken out
    of the claim index (``queue_role`` NULL, as a pause could do once and a resume undo),
    done here for real (committed), measured, and put back exactly as they were."""
    sql = _queries(target.store)["find_claimable"]
    params = (ROLE, time.time() + 60, "")
    conn = target.raw()
    out: dict[str, Any] = {}
    try:
        out["as_is"] = {
            **boxed_reads(conn, sql, params, n, budget_s),
            "plan": plan_text(conn, target.store, sql, params),
        }
        lateral = PER_ACTIVE_RUN[target.store]
        out["per_active_run"] = {
            **boxed_reads(conn, lateral, params, n, budget_s),
            "plan": plan_text(conn, target.store, lateral, params),
        }
        keep = _mark(
            target.store,
            "CREATE TEMP TABLE parked AS SELECT id, queue_role FROM tasks"
            " WHERE run_id = ? AND queue_role IS NOT NULL",
        )
        conn.execute(keep, (big_run,))
        park = _mark(
            target.store,
            "UPDATE tasks SET queue_role = NULL WHERE run_id = ? AND queue_role IS NOT NULL",
        )
        park_s = _timed_exec(conn, park, (big_run,))
        try:
            out["paused_tasks_out_of_index"] = {
                **boxed_reads(conn, sql, params, n, budget_s),
                "plan": plan_text(conn, target.store, sql, params),
                "park_s": park_s,
            }
        finally:
            restore = (
                "UPDATE tasks SET queue_role = p.queue_role FROM parked p WHERE tasks.id = p.id"
            )
            out["paused_tasks_out_of_index"]["restore_s"] = _timed_exec(conn, restore)
            conn.execute("DROP TABLE parked")
        return out
    finally:
        conn.close()


#: The watchdog's query, and the partial index that would hold only what it looks for.
WATCHED_INDEX = (
    "CREATE INDEX scale_tasks_watched ON tasks (run_id, created_seq)"
    " WHERE state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval',"
    " 'blocked') AND (state = 'blocked' OR review_rounds > 0)"
)
WATCHED_FROM = "AND (t.state = 'blocked' OR t.review_rounds >= "
WATCHED_TO = "AND (t.state = 'blocked' OR t.review_rounds > 0) " + WATCHED_FROM


def watched_experiment(target: Target, run_id: str, review_alert: int, n: int) -> dict[str, Any]:
    """``watched_tasks`` (every watchdog pass) as it is, then with ``WATCHED_INDEX``
    built and the query given the index's predicate (true whenever
    ``review_rounds >= review_alert >= 1``); the index is dropped again."""
    sql = _queries(target.store)["watched_tasks"]
    if WATCHED_FROM not in sql:
        return {"skipped": "watched_tasks is no longer the query this experiment rewrites"}
    rewritten = sql.replace(WATCHED_FROM, WATCHED_TO)
    params = (run_id, review_alert)
    conn = target.raw()
    try:
        if target.store == "postgres":
            conn.execute("ANALYZE tasks")
        out: dict[str, Any] = {
            "as_is": {
                **boxed_reads(conn, sql, params, n, 20.0),
                "plan": plan_text(conn, target.store, sql, params),
            }
        }
        build_s = _timed_exec(conn, WATCHED_INDEX)
        try:
            if target.store == "postgres":
                conn.execute("ANALYZE tasks")
            out["with_index"] = {
                **boxed_reads(conn, rewritten, params, n, 20.0),
                "plan": plan_text(conn, target.store, rewritten, params),
                "index_build_s": build_s,
                "index": WATCHED_INDEX,
            }
        finally:
            conn.execute("DROP INDEX scale_tasks_watched")
        return out
    finally:
        conn.close()


def add_tasks_reads(target: Target, run_id: str, keys: list[str]) -> dict[str, Any]:
    """What ``add_tasks`` reads before it writes: the run's every task (``list_tasks``,
    as ``tx.run_tasks`` runs it, rows left as tuples), against looking up only the keys
    the new tasks name (their ids, depends_on and parents), by primary key."""
    queries = _queries(target.store)
    conn = target.raw()
    try:
        marks = ", ".join("?" if target.store == "sqlite" else "%s" for _ in keys)
        keyed = f"SELECT id, key, state FROM tasks WHERE id IN ({marks})"
        ids = tuple(f"{run_id}/{key}" for key in keys)
        return {
            "list_tasks": boxed_reads(conn, queries["list_tasks"], (run_id,), 5, 30.0),
            "keyed_lookup": boxed_reads(conn, keyed, ids, 50, 5.0),
            "keys": len(keys),
        }
    finally:
        conn.close()
