-- What the watchdog reads on every pass (queries.sql watched_tasks): open tasks that
-- are blocked or were returned by review. Without this index the query walked every
-- open task of the run -- 380 ms a pass on a 1,000,000-task board (bench/scale.py).
-- A task enters it only when it is blocked or returned by review and leaves it when it
-- ends, so the claim/submit path of a task never reviewed never writes it.
CREATE INDEX tasks_watched ON tasks (run_id, created_seq)
    WHERE state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
      AND (state = 'blocked' OR review_rounds > 0);
