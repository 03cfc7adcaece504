-- Policies as data (model/policies.py): every version of the board's policy, and the
-- version each run was created under (its rules for the run's whole life).
CREATE TABLE policies (
    version  INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    set_at   REAL NOT NULL
);
CREATE TABLE run_policies (
    run_id  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
