-- The effect ledger (model/effects.py): one row per task and step; every change to it
-- happens under the task's lease, with the task's row locked, so rows never race.
CREATE TABLE effects (
    task_id       TEXT NOT NULL,
    step          TEXT NOT NULL,
    key           TEXT NOT NULL,
    state         TEXT NOT NULL,
    result        TEXT,
    attempts      INTEGER NOT NULL,
    started_by    TEXT NOT NULL,
    started_token INTEGER NOT NULL,
    started_at    REAL NOT NULL,
    done_at       REAL,
    PRIMARY KEY (task_id, step)
) WITHOUT ROWID
