-- Idle workers wait for work, not for every commit. A transaction that makes a task
-- claimable (a row of tasks gets a queue_role) or changes a run's state (a paused run
-- resumes, a run ends: run-scoped workers stop) flags itself in a transaction-local
-- setting; baton_append_events then announces it on baton_work as well as on
-- baton_events. Claims, messages and usage updates -- most commits of a busy board --
-- announce on baton_events only, so they no longer wake every idle worker of every
-- process (docs/postgres.md). A claim leaves queue_role NULL: its trigger never fires.
CREATE FUNCTION baton_flag_work() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('baton.work', 'on', true);
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_claimable_inserted AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.queue_role IS NOT NULL) EXECUTE FUNCTION baton_flag_work();
CREATE TRIGGER tasks_claimable_updated AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (NEW.queue_role IS NOT NULL AND NEW.queue_role IS DISTINCT FROM OLD.queue_role)
    EXECUTE FUNCTION baton_flag_work();
CREATE TRIGGER runs_state_changed AFTER UPDATE ON runs
    FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state) EXECUTE FUNCTION baton_flag_work();

-- As in 0011, plus the baton_work announcement. Every task change writes an event in
-- its transaction, so the flag is set before the events are numbered; one that were
-- not would only wait for the idle workers' poll.
CREATE OR REPLACE FUNCTION baton_append_events(n BIGINT, rows JSON) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    last_seq BIGINT;
    h BYTEA;
    s BIGINT;
    e JSON;
BEGIN
    UPDATE event_counter SET last = last + n WHERE id = 1 RETURNING last, head
        INTO last_seq, h;
    s := last_seq - n;
    FOR e IN SELECT v FROM json_array_elements(rows) AS v LOOP
        s := s + 1;
        h := sha256(COALESCE(h, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                    || int8send(s) || decode(e->>6, 'hex'));
        INSERT INTO events (seq, run_id, task_id, kind, actor, payload, at, hash)
        VALUES (s, e->>0, e->>1, e->>2, e->>3, (e->5)::text, (e->>4)::float8, h);
    END LOOP;
    UPDATE event_counter SET head = h WHERE id = 1;
    PERFORM pg_notify('baton_events', last_seq::text);
    IF current_setting('baton.work', true) = 'on' THEN
        PERFORM pg_notify('baton_work', last_seq::text);
        PERFORM set_config('baton.work', '', true);
    END IF;
    RETURN last_seq;
END
$$;
