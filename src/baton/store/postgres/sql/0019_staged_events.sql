-- The event log without the hot counter row (docs/architecture.md, "The event log on
-- PostgreSQL"). Before this, every writer numbered its events from event_counter and held
-- that row's lock through its commit -- and, with durable commits, through its WAL flush,
-- so no two writers could share a flush (bench/event_counter.py).
--
-- Now a writer *stages* its events (baton_append_events, same signature, so the one-trip
-- functions of 0016 are unchanged) into pending_events, in a subtransaction of its own:
-- the rows' xmin is then an xid assigned at that moment, at the very end of the writer's
-- transaction. Nothing is locked; concurrent writers' commits group into one flush.
--
-- A *sequencer* (baton_sequence_events: run after every commit, in the same simple query,
-- and by readers before they read the log) moves staged events into events, numbering and
-- chaining them, but only those whose staging xid is below pg_snapshot_xmin -- older than
-- every transaction still running. Such a transaction has ended, so nothing staged later
-- or still running can take a place before it: what is numbered is a prefix of one order
-- (staging xid, then position), the same whenever it is computed. That is why the
-- sequencer may commit asynchronously: if a server crash loses its last commits, the
-- events are still staged (their writers' commits were durable) and are numbered again to
-- the very same seqs and hashes; anything durable that read a seq flushed the WAL before
-- it. The staging xid is taken at the end of the writer's transaction, after every wait
-- it did on another's locks, so a transaction that saw another's commit is numbered
-- after it. seq stays gap-free (a rolled-back transaction's staged rows never appear).
CREATE TABLE pending_events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pos     INTEGER NOT NULL,
    run_id  TEXT NOT NULL,
    task_id TEXT,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      DOUBLE PRECISION NOT NULL,
    digest  BYTEA NOT NULL,
    work    BOOLEAN NOT NULL
);

-- A 32-bit xid (a row's xmin) as the 64-bit xid8 it is, given a later xid8 (the
-- snapshot's xmax): staged rows are young, never 2^31 transactions old.
CREATE FUNCTION baton_widen_xid(x XID, later XID8) RETURNS XID8
LANGUAGE sql IMMUTABLE AS $$
    SELECT (later::text::bigint
            - ((later::text::bigint % 4294967296) - x::text::bigint + 4294967296) % 4294967296
           )::text::xid8
$$;

-- Stage a transaction's events. rows is a JSON array of [run_id, task_id, kind, actor, at,
-- payload, digest_hex] as before; returns how many were staged.
CREATE OR REPLACE FUNCTION baton_append_events(n BIGINT, rows JSON) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    work BOOLEAN := COALESCE(current_setting('baton.work', true) = 'on', FALSE);
BEGIN
    BEGIN  -- a subtransaction: its xid, assigned by this insert, orders these events
        INSERT INTO pending_events (pos, run_id, task_id, kind, actor, payload, at, digest, work)
        SELECT e.pos, e.v->>0, e.v->>1, e.v->>2, e.v->>3, (e.v->5)::text, (e.v->>4)::float8,
               decode(e.v->>6, 'hex'), work
        FROM json_array_elements(rows) WITH ORDINALITY AS e (v, pos);
    EXCEPTION WHEN OTHERS THEN
        RAISE;
    END;
    IF work THEN
        PERFORM set_config('baton.work', '', true);
    END IF;
    RETURN n;
END
$$;

-- Number, chain and announce staged events, under the event_counter row lock. With
-- below_horizon, only those of ended transactions (the sequencer); without, every staged
-- event this statement can see (a transaction that numbers its own events now, and
-- commits durably, numbers what committed before it first). Returns the last seq given,
-- or NULL if it gave none. The caller holds the counter row lock until it commits.
CREATE FUNCTION baton_number_staged(below_horizon BOOLEAN) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    last_seq BIGINT;
    h BYTEA;
    s BIGINT;
    r RECORD;
    ids BIGINT[] := '{}';
    work BOOLEAN := FALSE;
BEGIN
    SELECT last, head INTO last_seq, h FROM event_counter WHERE id = 1 FOR UPDATE;
    s := last_seq;
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
    IF s = last_seq THEN
        RETURN NULL;
    END IF;
    DELETE FROM pending_events WHERE id = ANY (ids);
    UPDATE event_counter SET last = s, head = h WHERE id = 1;
    PERFORM pg_notify('baton_events', s::text);
    IF work THEN
        PERFORM pg_notify('baton_work', s::text);
    END IF;
    RETURN s;
END
$$;

-- The sequencer: number the staged events of ended transactions, committing
-- asynchronously (see the top of this file for why that is safe). Cheap when there is
-- nothing to do: no lock, no write, no xid.
CREATE FUNCTION baton_sequence_events() RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pending_events p, pg_current_snapshot() AS snap
        WHERE baton_widen_xid(p.xmin, pg_snapshot_xmax(snap)) < pg_snapshot_xmin(snap)
    ) THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN baton_number_staged(TRUE);
END
$$;

-- For a reader that must see every event committed before it asked: sequence, then
-- report whether staged events with id <= target (the newest staged when it first asked,
-- if target is NULL) are still waiting for an older transaction to end. Returns the
-- target to ask again with, or NULL when there is nothing left to wait for.
CREATE FUNCTION baton_catch_up(target BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM baton_sequence_events();
    IF target IS NULL THEN
        SELECT max(id) INTO target FROM pending_events;
    END IF;
    IF target IS NULL OR NOT EXISTS (SELECT 1 FROM pending_events WHERE id <= target) THEN
        RETURN NULL;
    END IF;
    RETURN target;
END
$$;

-- A transaction whose result names its events' seqs numbers them before it commits
-- (durably), right after every staged event it can see, holding the counter row until
-- then: the old path, for messages and escalations only. Returns the last seq (its own
-- events' are the n up to it).
CREATE FUNCTION baton_number_events(n BIGINT, rows JSON) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    last_seq BIGINT;
    h BYTEA;
    s BIGINT;
    e JSON;
BEGIN
    PERFORM baton_number_staged(FALSE);  -- takes the counter row's lock
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
