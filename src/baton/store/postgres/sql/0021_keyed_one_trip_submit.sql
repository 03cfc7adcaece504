-- A submit with an idempotency key in one round trip too (docs/postgres.md, round trips).
--
-- The Worker sends every submit with a key, so that a submit retried after a lost
-- connection is a replay, not a second write; with a key the submit went the general
-- path (read the key, lock the task, write, settle, probe the run, record the key: five
-- round trips against one). This wraps migration 0016's generated submit: a key already
-- recorded writes nothing and answers "take the general path" (a row of nulls), which
-- replays it or names the conflict; otherwise the generated submit runs, and the key is
-- recorded in the same transaction with the task's row as the result. The row is
-- recorded by column name (with depends_on, as the task queries select it), and
-- baton.store.rows.task_from_record rebuilds the same task from it. Two submits with
-- the same key at once: the second waits on the task's row lock, then finds the task
-- no longer running and takes the general path, which finds the key recorded.
CREATE OR REPLACE FUNCTION baton_submit_one_trip_keyed(
    p_key TEXT, p_op TEXT, p_task TEXT, p_token INTEGER, p_owner TEXT,
    p_now DOUBLE PRECISION, p_at TEXT, p_output TEXT
) RETURNS SETOF tasks
LANGUAGE plpgsql AS $$
DECLARE
    done tasks%ROWTYPE;
BEGIN
    IF EXISTS (SELECT 1 FROM idempotency WHERE key = p_key) THEN
        RETURN NEXT NULL::tasks;  -- a repeat: the general path replays it
        RETURN;
    END IF;
    SELECT * INTO done FROM baton_submit_one_trip(p_task, p_token, p_owner, p_now, p_at, p_output);
    IF done.id IS NOT NULL THEN
        INSERT INTO idempotency (key, op, result, created_at) VALUES (p_key, p_op,
            jsonb_build_object('task_row', to_jsonb(done) || jsonb_build_object('depends_on',
                (SELECT COALESCE(json_agg(d.dep_id ORDER BY d.dep_id)::text, '[]')
                 FROM deps d WHERE d.task_id = done.id)))::text,
            p_now);
    END IF;
    RETURN NEXT done;
END
$$;
