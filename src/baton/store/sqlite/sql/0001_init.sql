-- Baton schema, version 1 (SQLite).
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    goal        TEXT NOT NULL,
    state       TEXT NOT NULL,
    roles       TEXT NOT NULL,   -- JSON list
    labels      TEXT NOT NULL,   -- JSON list
    created_at  REAL NOT NULL,
    finished_at REAL
);

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL,
    key              TEXT NOT NULL,
    spec             TEXT NOT NULL,   -- JSON: the immutable part of the task
    role             TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    created_seq      INTEGER NOT NULL,
    state            TEXT NOT NULL,
    queue_role       TEXT,            -- who may claim it now; NULL when nobody may
    token            INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    review_rounds    INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_kind       TEXT,
    lease_expires_at REAL,
    not_before       REAL NOT NULL DEFAULT 0,
    pending_deps     INTEGER NOT NULL,
    output           TEXT,            -- JSON
    last_error       TEXT,            -- JSON
    feedback         TEXT NOT NULL DEFAULT '[]',
    blocked_reason   TEXT,
    updated_at       REAL NOT NULL
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
) WITHOUT ROWID;
CREATE INDEX deps_by_dep ON deps (dep_id, task_id);

-- seq is the rowid: writers are serialised by BEGIN IMMEDIATE, so it is assigned in
-- commit order, and a rolled-back insert frees its number again: gap-free.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL,
    task_id TEXT,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      REAL NOT NULL
);
CREATE INDEX events_run ON events (run_id, seq);

CREATE TABLE idempotency (
    key    TEXT PRIMARY KEY,
    op     TEXT NOT NULL,
    result TEXT NOT NULL
) WITHOUT ROWID;
