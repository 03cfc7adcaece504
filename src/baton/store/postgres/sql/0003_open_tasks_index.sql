-- Keep the per-run state index off the hot path: an index on (run_id, state) is
-- rewritten by every transition; these two change only when a task is created or
-- reaches a terminal state.
DROP INDEX tasks_run_state;
CREATE INDEX tasks_run ON tasks (run_id, created_seq);
CREATE INDEX tasks_open ON tasks (run_id)
    WHERE state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked');
