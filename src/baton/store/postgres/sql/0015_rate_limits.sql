-- Rate limits (model/policies.py RateLimit): how many actions each participant did in
-- the current fixed window of each rule; a participant's earlier windows are deleted as
-- it moves on, so the table holds at most one row per participant and rule.
CREATE TABLE rate_counts (
    participant  TEXT NOT NULL,
    rule         TEXT NOT NULL,
    window_start DOUBLE PRECISION NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (participant, rule, window_start)
);
