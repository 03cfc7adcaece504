-- The writer that finds the event counter free numbers its own events; only the others
-- stage (docs/architecture.md, "The event log on PostgreSQL"). Migration 0019 staged
-- every writer's events, which costs each commit a subtransaction, a second write of
-- every event and a sequencer transaction -- a loss wherever writers do not queue on
-- the counter (bench/RESULTS.md, 2026-12-05: 274 -> 204 chain tasks/s at one worker).
--
-- Now baton_append_events tries the counter row without waiting (SKIP LOCKED). Free:
-- the writer numbers every staged event it can see and then its own, in its own
-- transaction, and holds the row until it commits -- the pre-0019 path, which costs
-- nothing extra where there is no contention. Held: it stages, as in 0019, and commits
-- without waiting for anyone. So at most one writer at a time holds the counter through
-- its WAL flush, and the rest share flushes instead of queueing behind it.
--
-- Why the order stays one order: whoever numbers holds the counter row, so numberings
-- never interleave. A direct writer numbers after every staged event that committed
-- before it numbered (a transaction that saw another's commit sees its staged rows, so
-- it is numbered after it); staged events of transactions still running are numbered
-- after it, and they cannot have seen its commit. The sequencer numbers staged events
-- of ended transactions only, in staging-xid order, as before. A direct writer commits
-- durably, flushing every earlier sequencer commit with it; what a crash can lose is
-- only sequencer work numbered after every durable numbering, which is redone the same.
--
-- Announcements move out of the durable commit: pg_notify inside a transaction takes
-- the server's notify queue lock at commit and holds it through the WAL flush, which
-- would serialise every announcing commit as the counter row did. The numbering
-- transaction records what to announce in two session settings (reverted if it rolls
-- back); the sequencer, run right after every COMMIT in the same simple query, sends
-- them from its asynchronous commit. Sequencers wait for one another (a transaction
-- advisory lock, held for microseconds) but never for a direct writer's flush: one that
-- finds the counter held leaves the staged events to the holder's own sequencer, which
-- runs after the holder commits and so sees them.

-- Number, chain and record for announcement, under the counter row the caller holds
-- (last_seq and h are its values): first the staged events -- those of ended
-- transactions (below_horizon, the sequencer) or every one this statement can see (a
-- writer numbering in place) -- then rows, this transaction's own (NULL for none; work:
-- whether they make work claimable). One read and at most one update of the counter
-- row per transaction, as before 0019: each update leaves a row version behind that
-- the next reader walks past until the page is pruned. Returns the last seq given
-- (last_seq if none).
--
-- What to announce goes into two session settings (non-local: they outlive the commit
-- and vanish with a rollback) for this session's next sequencer to send.
CREATE FUNCTION baton_number_locked(last_seq BIGINT, h BYTEA, below_horizon BOOLEAN,
                                    rows JSON, work BOOLEAN) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT := last_seq;
    r RECORD;
    e JSON;
    ids BIGINT[] := '{}';
BEGIN
    IF EXISTS (SELECT 1 FROM pending_events) THEN  -- else skip opening the loop's cursor
    FOR r IN
        SELECT p.id, p.run_id, p.task_id, p.kind, p.actor, p.payload, p.at, p.digest, p.work
        FROM pending_events p, pg_current_snapshot() AS snap
        WHERE NOT below_horizon
           OR baton_widen_xid(p.xmin, pg_snapshot_xmax(snap)) < pg_snapshot_xmin(snap)
        ORDER BY baton_widen_xid(p.xmin, pg_snapshot_xmax(snap)), p.pos
    LOOP
        s := s + 1;
        h := sha256(COALESCE(h, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                    || int8send(s) || r.digest);
        INSERT INTO events (seq, run_id, task_id, kind, actor, payload, at, hash)
        VALUES (s, r.run_id, r.task_id, r.kind, r.actor, r.payload, r.at, h);
        ids := ids || r.id;
        work := work OR r.work;
    END LOOP;
    IF s > last_seq THEN
        DELETE FROM pending_events WHERE id = ANY (ids);
    END IF;
    END IF;
    IF rows IS NOT NULL THEN
        FOR e IN SELECT v FROM json_array_elements(rows) AS v LOOP
            s := s + 1;
            h := sha256(COALESCE(h, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                        || int8send(s) || decode(e->>6, 'hex'));
            INSERT INTO events (seq, run_id, task_id, kind, actor, payload, at, hash)
            VALUES (s, e->>0, e->>1, e->>2, e->>3, (e->5)::text, (e->>4)::float8, h);
        END LOOP;
    END IF;
    IF s = last_seq THEN
        RETURN s;
    END IF;
    UPDATE event_counter SET last = s, head = h WHERE id = 1;
    PERFORM set_config('baton.announce', s::text, false);  -- seqs only grow
    IF work THEN
        PERFORM set_config('baton.announce_work', 'on', false);
    END IF;
    RETURN s;
END
$$;

DROP FUNCTION baton_number_staged(BOOLEAN);

-- A transaction's events, numbered now, for a result that names their seqs: waits for
-- the counter row and holds it until this transaction commits. Returns the last seq
-- (its own events' are the n up to it).
CREATE OR REPLACE FUNCTION baton_number_events(n BIGINT, rows JSON) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    last_seq BIGINT;
    h BYTEA;
    work BOOLEAN := COALESCE(current_setting('baton.work', true) = 'on', FALSE);
BEGIN
    SELECT last, head INTO last_seq, h FROM event_counter WHERE id = 1 FOR UPDATE;
    IF work THEN
        PERFORM set_config('baton.work', '', true);
    END IF;
    RETURN baton_number_locked(last_seq, h, FALSE, rows, work);
END
$$;

-- A transaction's events: numbered now if the counter is free, else staged (see the
-- top of this file). Returns n.
CREATE OR REPLACE FUNCTION baton_append_events(n BIGINT, rows JSON) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    last_seq BIGINT;
    h BYTEA;
    work BOOLEAN := COALESCE(current_setting('baton.work', true) = 'on', FALSE);
BEGIN
    IF work THEN
        PERFORM set_config('baton.work', '', true);
    END IF;
    SELECT last, head INTO last_seq, h FROM event_counter WHERE id = 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        PERFORM baton_number_locked(last_seq, h, FALSE, rows, work);
        RETURN n;
    END IF;
    BEGIN  -- a subtransaction: its xid, assigned by this insert, orders these events
        INSERT INTO pending_events (pos, run_id, task_id, kind, actor, payload, at, digest, work)
        SELECT e.pos, e.v->>0, e.v->>1, e.v->>2, e.v->>3, (e.v->5)::text, (e.v->>4)::float8,
               decode(e.v->>6, 'hex'), work
        FROM json_array_elements(rows) WITH ORDINALITY AS e (v, pos);
    EXCEPTION WHEN OTHERS THEN
        RAISE;
    END;
    RETURN n;
END
$$;

-- The sequencer, run after every COMMIT and ROLLBACK and by readers: number the staged
-- events of ended transactions unless a writer numbering in place holds the counter
-- (its own sequencer will, after its commit), then send this session's announcements,
-- committing asynchronously. Returns the last seq it numbered, or NULL. No lock, no
-- write, no xid when there is nothing to do.
CREATE OR REPLACE FUNCTION baton_sequence_events() RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT;
    last_seq BIGINT;
    h BYTEA;
    announce BIGINT := NULLIF(current_setting('baton.announce', true), '')::bigint;
    staged BOOLEAN := EXISTS (
        SELECT 1 FROM pending_events p, pg_current_snapshot() AS snap
        WHERE baton_widen_xid(p.xmin, pg_snapshot_xmax(snap)) < pg_snapshot_xmin(snap)
    );
BEGIN
    IF announce IS NULL AND NOT staged THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);
    IF staged THEN
        PERFORM pg_advisory_xact_lock(7243020);  -- one sequencer at a time
        SELECT last, head INTO last_seq, h FROM event_counter WHERE id = 1
            FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            s := NULLIF(baton_number_locked(last_seq, h, TRUE, NULL, FALSE), last_seq);
        END IF;
    END IF;
    announce := NULLIF(current_setting('baton.announce', true), '')::bigint;
    IF announce IS NOT NULL THEN
        PERFORM pg_notify('baton_events', announce::text);
        IF current_setting('baton.announce_work', true) = 'on' THEN
            PERFORM pg_notify('baton_work', announce::text);
        END IF;
        PERFORM set_config('baton.announce', '', false);
        PERFORM set_config('baton.announce_work', '', false);
    END IF;
    RETURN s;
END
$$;
