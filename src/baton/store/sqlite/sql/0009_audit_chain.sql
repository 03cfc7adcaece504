-- The audit chain (baton/model/audit.py): each event's hash links it to the one before;
-- event_chain holds the head (last seq and hash), so events cut from the end show too.
-- Events written before this migration are chained by the store when it opens.
-- archived_events keeps, for each event moved to an archive file, what the chain needs
-- (its digest and hash); archives records each hand-over.
ALTER TABLE events ADD COLUMN hash BLOB;
CREATE TABLE event_chain (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE archived_events (
    seq    INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    digest BLOB NOT NULL,
    hash   BLOB NOT NULL
);
CREATE INDEX archived_events_run ON archived_events (run_id, seq);
CREATE TABLE archives (
    run_id     TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    events     INTEGER NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    file_hash  TEXT NOT NULL,
    archived_by TEXT NOT NULL,
    archived_at REAL NOT NULL
)
