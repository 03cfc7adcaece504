-- A submit and the submitter's next claim in one transaction and one round trip
-- (Board.submit_and_claim; docs/postgres.md, round trips).
--
-- A worker that finishes a task claims its next one at once; as two calls that is two
-- transactions, two commits (two WAL flushes) and two wake-ups of server and client
-- per task, and on a chain the dependent the submit released is raced for by an idle
-- worker that the commit woke. This wraps the generated functions of migration 0023
-- (store/postgres/one_trip.py) without repeating a rule of theirs: the submit runs
-- first; if it answers "take the general path" (a row of nulls) nothing was written
-- and the answer is passed on. Then the claim, for the submitter, in the same
-- transaction, so it sees the dependents the submit released; if the claim must go the
-- general path (a review lease, an attempts budget), SQLSTATE BT001 rolls the
-- transaction back whole and the Board does both on its general path.
--
-- With a key (p_key not null), as migration 0021: a key already recorded writes nothing
-- and answers "general path" (which replays it or names the conflict); otherwise the
-- key is recorded with both rows, the submitted task's under task_row and the claimed
-- one's under claimed_row (null when nothing was claimable), by column name with
-- depends_on (baton.store.rows.task_from_record, claimed_from_record). jsonb orders
-- keys by length first, so task_row stays the record's first key, which is how a
-- record the store wrote is told from one the Board encoded.
--
-- Returns the submitted task's row, then the claimed task's row if one was claimed;
-- or one row of nulls.
CREATE FUNCTION baton_task_record(t tasks) RETURNS JSONB
LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(t) || jsonb_build_object('depends_on',
        (SELECT COALESCE(json_agg(d.dep_id ORDER BY d.dep_id)::text, '[]')
         FROM deps d WHERE d.task_id = t.id))
$$;

CREATE FUNCTION baton_submit_and_claim_one_trip(
    p_key TEXT, p_op TEXT, p_task TEXT, p_token INTEGER, p_owner TEXT,
    p_now DOUBLE PRECISION, p_at TEXT, p_output TEXT,
    p_role TEXT, p_run TEXT, p_lease_s DOUBLE PRECISION
) RETURNS SETOF tasks
LANGUAGE plpgsql AS $$
DECLARE
    done tasks%ROWTYPE;
    claimed tasks%ROWTYPE;
BEGIN
    IF p_key IS NOT NULL AND EXISTS (SELECT 1 FROM idempotency WHERE key = p_key) THEN
        RETURN NEXT NULL::tasks;  -- a repeat: the general path replays it
        RETURN;
    END IF;
    SELECT * INTO done FROM baton_submit_one_trip(p_task, p_token, p_owner, p_now, p_at, p_output);
    IF done.id IS NULL THEN
        RETURN NEXT NULL::tasks;  -- nothing written: the general path names what is wrong
        RETURN;
    END IF;
    SELECT * INTO claimed
    FROM baton_claim_one_trip(p_role, p_run, p_now, '', p_owner, p_lease_s, p_at);
    IF FOUND AND claimed.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'BT001';  -- the claim needs the general path
    END IF;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency (key, op, result, created_at) VALUES (p_key, p_op,
            jsonb_build_object('task_row', baton_task_record(done), 'claimed_row',
                CASE WHEN claimed.id IS NULL THEN NULL ELSE baton_task_record(claimed) END
            )::text,
            p_now);
    END IF;
    RETURN NEXT done;
    IF claimed.id IS NOT NULL THEN
        RETURN NEXT claimed;
    END IF;
END
$$;
