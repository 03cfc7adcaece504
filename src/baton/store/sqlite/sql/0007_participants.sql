-- Participants with credentials (only a token's SHA-256 is kept), who created each run
-- (a creator sees its runs), and who did a task's work (nobody reviews their own).
CREATE TABLE participants (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    roles       TEXT NOT NULL,   -- JSON list
    grants      TEXT NOT NULL,   -- JSON list
    runs        TEXT NOT NULL,   -- JSON list; "*" for every run
    token_hash  TEXT NOT NULL UNIQUE,
    token_hint  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    rotated_at  REAL,
    revoked_at  REAL
);
ALTER TABLE runs ADD COLUMN created_by TEXT;
ALTER TABLE tasks ADD COLUMN worked_by TEXT;
