-- Singleton duties (the watchdog): at most one live holder per duty, fenced by a token
-- that every take-over bumps, like a task's claim. Runtime bookkeeping, not board state
-- about a run, so changing a duty appends no event (and wakes no idle worker).
CREATE TABLE duties (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
