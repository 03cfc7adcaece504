-- Artifacts: versioned shared context. Contents are kept once per digest (blobs); every
-- version is a row naming its digest, author and the version it was based on; the head
-- row says which version is the latest. scope is '' for a run's shared scope, else a
-- task id.
CREATE TABLE blobs (
    digest   TEXT PRIMARY KEY,
    content  TEXT NOT NULL
);
CREATE TABLE artifacts (
    run_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    head        INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (run_id, scope, name)
);
CREATE TABLE artifact_versions (
    run_id       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    digest       TEXT NOT NULL REFERENCES blobs (digest),
    size         INTEGER NOT NULL,
    base         INTEGER,
    merged_with  INTEGER,
    author       TEXT NOT NULL,
    at           REAL NOT NULL,
    PRIMARY KEY (run_id, scope, name, version)
);
-- Reservations live while their task's work lease does (same token, unexpired): the
-- liveness is read by joining tasks, so a reclaimed or finished task frees them at once.
CREATE TABLE reservations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    resource    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    holder      TEXT NOT NULL,
    task_token  INTEGER NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX reservations_by_task ON reservations (task_id);
