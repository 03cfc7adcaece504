-- Baton schema, version 1 (PostgreSQL). Same tables and columns as SQLite's, so that
-- one row mapping (_rows.py) serves both; JSON is stored as text for the same reason.
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    goal        TEXT NOT NULL,
    state       TEXT NOT NULL,
    roles       TEXT NOT NULL,
    labels      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION
);

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL,
    key              TEXT NOT NULL,
    spec             TEXT NOT NULL,
    role             TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    created_seq      BIGINT NOT NULL,
    state            TEXT NOT NULL,
    queue_role       TEXT,
    token            INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    review_rounds    INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_kind       TEXT,
    lease_expires_at DOUBLE PRECISION,
    not_before       DOUBLE PRECISION NOT NULL DEFAULT 0,
    pending_deps     INTEGER NOT NULL,
    output           TEXT,
    last_error       TEXT,
    feedback         TEXT NOT NULL DEFAULT '[]',
    blocked_reason   TEXT,
    updated_at       DOUBLE PRECISION NOT NULL
);
CREATE INDEX tasks_claim ON tasks (queue_role, priority DESC, created_seq)
    WHERE queue_role IS NOT NULL;
CREATE INDEX tasks_claim_run ON tasks (run_id, queue_role, priority DESC, created_seq)
    WHERE queue_role IS NOT NULL;
CREATE INDEX tasks_run_state ON tasks (run_id, state);
CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
CREATE INDEX tasks_created ON tasks (created_seq);

CREATE TABLE deps (
    task_id TEXT NOT NULL,
    dep_id  TEXT NOT NULL,
    PRIMARY KEY (task_id, dep_id)
);
CREATE INDEX deps_by_dep ON deps (dep_id, task_id);

-- seq is assigned by Tx.flush() from event_counter, whose single row stays locked from
-- the moment a transaction numbers its events until it commits: numbers are handed out
-- in commit order, and a rolled-back transaction's numbers are handed out again.
CREATE TABLE events (
    seq     BIGINT PRIMARY KEY,
    run_id  TEXT NOT NULL,
    task_id TEXT,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      DOUBLE PRECISION NOT NULL
);
CREATE INDEX events_run ON events (run_id, seq);

CREATE TABLE event_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO event_counter (id, last) VALUES (1, 0);

CREATE TABLE idempotency (
    key    TEXT PRIMARY KEY,
    op     TEXT NOT NULL,
    result TEXT NOT NULL
);
