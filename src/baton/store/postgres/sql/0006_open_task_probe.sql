-- Is a run's task still open? Asked when a task finishes with nothing left to release.
-- The planner reads "LIMIT 1" as "stop at the first match" and, assuming matches are
-- spread evenly, scans the table in physical order, walking past every task that has
-- already finished (0.4-0.8 ms on a half-done 8,000-task run, growing with the run).
-- The partial index tasks_open holds only open tasks (until the entries of finished
-- ones are cleaned up), so the probe is told to use it. held = TRUE share-locks the
-- task it finds, skipping tasks other transactions are changing (see has_open_tasks
-- in PostgresStore for why).
CREATE FUNCTION baton_open_task(run TEXT, held BOOLEAN) RETURNS BOOLEAN
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF held THEN
        PERFORM 1 FROM tasks WHERE run_id = run
            AND state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
            LIMIT 1 FOR SHARE SKIP LOCKED;
    ELSE
        PERFORM 1 FROM tasks WHERE run_id = run
            AND state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
            LIMIT 1;
    END IF;
    RETURN FOUND;
END $$;
