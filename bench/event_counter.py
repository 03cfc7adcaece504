"""What the gap-free event counter costs when commits are durable: pgbench, same server.

    .venv/bin/python bench/event_counter.py [--quick] [--json FILE]

Baton numbers a transaction's events from one counter row (``event_counter``) whose row
lock is held until the commit returns. With ``fsync=on`` a commit returns only after its
WAL flush, so every writer waits for the previous writer's flush: the flushes cannot be
grouped. This benchmark measures that limit with no Baton code at all, as pgbench
transactions against a throwaway cluster (scripts/pgtest.py's functions, restarted with
``fsync=on, synchronous_commit=on``), at 1, 4 and 16 clients, interleaved per repetition:

* ``counter``: Baton's scheme — ``UPDATE event_counter … RETURNING``, an event row with
  that number, ``COMMIT`` (the counter lock held through the flush);
* ``sequence``: the same event row numbered by ``nextval`` (no lock held: flushes group,
  but a later number can commit first and rollbacks leave gaps);
* ``sequence+xid``: ``sequence`` plus the writer's ``pg_current_xact_id()`` on the row —
  what a visibility watermark needs (readers stop below the oldest running writer).

The ratio ``sequence / counter`` at N clients is what replacing the counter could gain
for commit-bound workloads; at 1 client both are one flush per commit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SETUP = """
DROP TABLE IF EXISTS ev_a, ev_b, ev_c, ev_d, ev_pending, ev_e, ev_staged, ev_counter, ev_counter2;
DROP SEQUENCE IF EXISTS ev_seq;
CREATE TABLE ev_counter (id INT PRIMARY KEY, last BIGINT NOT NULL);
INSERT INTO ev_counter VALUES (1, 0);
CREATE SEQUENCE ev_seq;
CREATE TABLE ev_a (seq BIGINT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE ev_b (seq BIGINT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE ev_c (seq BIGINT PRIMARY KEY, xid XID8 NOT NULL, payload TEXT NOT NULL);
CREATE TABLE ev_pending (id BIGINT PRIMARY KEY DEFAULT nextval('ev_seq'), payload TEXT NOT NULL);
CREATE TABLE ev_d (seq BIGINT PRIMARY KEY, payload TEXT NOT NULL);
CREATE FUNCTION ev_sequence() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE last_seq BIGINT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ev_pending) THEN RETURN 0; END IF;
    PERFORM pg_advisory_xact_lock(42);
    WITH moved AS (DELETE FROM ev_pending RETURNING id, payload),
         base AS (SELECT last FROM ev_counter WHERE id = 1),
         numbered AS (
             INSERT INTO ev_d (seq, payload)
             SELECT base.last + row_number() OVER (ORDER BY id), payload FROM moved, base
             RETURNING seq)
    SELECT max(seq) INTO last_seq FROM numbered;
    IF last_seq IS NOT NULL THEN
        UPDATE ev_counter SET last = last_seq WHERE id = 1;
    END IF;
    RETURN last_seq;
END $$;
CREATE TABLE ev_counter2 (id INT PRIMARY KEY, last BIGINT NOT NULL);
INSERT INTO ev_counter2 VALUES (1, 0);
CREATE TABLE ev_staged (id BIGINT DEFAULT nextval('ev_seq'),
    xid XID8 NOT NULL DEFAULT pg_current_xact_id(), payload TEXT NOT NULL, PRIMARY KEY (xid, id));
CREATE TABLE ev_e (seq BIGINT PRIMARY KEY, payload TEXT NOT NULL);
CREATE FUNCTION ev_sequence_horizon() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE last_seq BIGINT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ev_staged WHERE xid < pg_snapshot_xmin(pg_current_snapshot())) THEN
        RETURN 0;
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT last INTO last_seq FROM ev_counter2 WHERE id = 1 FOR UPDATE;
    WITH moved AS (DELETE FROM ev_staged WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
                   RETURNING id, xid, payload),
         numbered AS (
             INSERT INTO ev_e (seq, payload)
             SELECT last_seq + row_number() OVER (ORDER BY xid, id), payload FROM moved
             RETURNING seq)
    SELECT coalesce(max(seq), last_seq) INTO last_seq FROM numbered;
    UPDATE ev_counter2 SET last = last_seq WHERE id = 1;
    RETURN last_seq;
END $$;
"""
SCRIPTS = {
    "counter": """BEGIN;
WITH c AS (UPDATE ev_counter SET last = last + 1 WHERE id = 1 RETURNING last)
INSERT INTO ev_a (seq, payload) SELECT last, 'x' FROM c;
COMMIT;
""",
    "sequence": """BEGIN;
INSERT INTO ev_b (seq, payload) VALUES (nextval('ev_seq'), 'x');
COMMIT;
""",
    "sequence+xid": """BEGIN;
INSERT INTO ev_c (seq, xid, payload) VALUES (nextval('ev_seq'), pg_current_xact_id(), 'x');
COMMIT;
""",
    "staged+horizon": """BEGIN;
INSERT INTO ev_staged (payload) VALUES ('x');
COMMIT;
SELECT ev_sequence_horizon();
""",
    "staged+sequencer": """BEGIN;
INSERT INTO ev_pending (payload) VALUES ('x');
COMMIT;
SELECT ev_sequence();
""",
}


def _pgtest() -> Any:
    spec = importlib.util.spec_from_file_location("pgtest", ROOT / "scripts" / "pgtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def durable_cluster(pgtest: Any) -> tuple[str, dict[str, str], Path, Path]:
    """A throwaway cluster restarted with durable commits."""
    bindir = pgtest.pg_bin() or pgtest.install()
    url, env, root = pgtest.start(bindir)
    user = env["BATON_TEST_PG_USER"] or None
    opts = env["BATON_TEST_PG_OPTS"].replace("-c fsync=off", "-c fsync=on")
    opts += " -c synchronous_commit=on"
    data = env["BATON_TEST_PG_DATA"]
    cmd = [str(bindir / "pg_ctl"), "-D", data, "-o", opts, "-w", "restart", "-m", "fast"]
    subprocess.run(pgtest.as_user(user, cmd), check=True, stdout=subprocess.DEVNULL)
    return url, env, root, bindir


def pgbench(url: str, script: Path, clients: int, seconds: int) -> float:
    """Transactions per second pgbench reports (excluding connection time)."""
    done = subprocess.run(
        [
            *("pgbench", "-n", "-f", str(script), "-c", str(clients)),
            *("-j", str(min(clients, 4)), "-T", str(seconds), url),
        ],
        capture_output=True,
        text=True,
    )
    found = re.search(r"tps = ([0-9.]+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return float(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repetition of 3 s each")
    ap.add_argument("--json", default="", help="write the figures here")
    args = ap.parse_args()
    reps, seconds = (1, 3) if args.quick else (3, 8)
    clients_list = (1, 4, 16)
    pgtest = _pgtest()
    url, env, root, bindir = durable_cluster(pgtest)
    tps: dict[str, dict[int, list[float]]] = {s: {c: [] for c in clients_list} for s in SCRIPTS}
    try:
        subprocess.run(["psql", "-q", url, "-c", SETUP], check=True, capture_output=True)
        settings = subprocess.run(
            ["psql", "-Atq", url, "-c", "SELECT current_setting('fsync'), version()"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for name, text in SCRIPTS.items():
                files[name] = Path(tmp) / f"{name.replace('+', '_')}.sql"
                files[name].write_text(text)
            for rep in range(reps):
                for clients in clients_list:
                    names = list(SCRIPTS)
                    names = names[rep % len(names) :] + names[: rep % len(names)]
                    for name in names:
                        tps[name][clients].append(pgbench(url, files[name], clients, seconds))
    finally:
        pgtest.stop(bindir, env, root)

    def med(name: str, c: int) -> float:
        return statistics.median(tps[name][c])

    table = Table(title=f"durable commits (fsync={settings.split('|')[0]}), transactions/s")
    table.add_column("clients", justify="right")
    for name in SCRIPTS:
        table.add_column(name, justify="right")
    table.add_column("sequence / counter", justify="right")
    for c in clients_list:
        cells = [f"{med(n, c):,.0f} ({min(tps[n][c]):,.0f}-{max(tps[n][c]):,.0f})" for n in SCRIPTS]
        table.add_row(str(c), *cells, f"{med('sequence', c) / med('counter', c):.2f}")
    Console().print(table)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "server": settings,
                    "seconds": seconds,
                    "reps": reps,
                    "tps": {n: {str(c): v for c, v in by.items()} for n, by in tps.items()},
                    "ratio_sequence_to_counter": {
                        str(c): med("sequence", c) / med("counter", c) for c in clients_list
                    },
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
