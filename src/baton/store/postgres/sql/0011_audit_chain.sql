-- The audit chain (baton/model/audit.py): each event's hash links it to the one before,
-- computed by baton_append_events under the event_counter row lock (so in commit
-- order); event_counter.head is the chain's head, so events cut from the end show too.
-- Events written before this migration are chained by the store when it opens.
-- archived_events keeps, for each event moved to an archive file, what the chain needs
-- (its digest and hash); archives records each hand-over.
ALTER TABLE events ADD COLUMN hash BYTEA;
ALTER TABLE event_counter ADD COLUMN head BYTEA;
CREATE TABLE archived_events (
    seq    BIGINT PRIMARY KEY,
    run_id TEXT NOT NULL,
    digest BYTEA NOT NULL,
    hash   BYTEA NOT NULL
);
CREATE INDEX archived_events_run ON archived_events (run_id, seq);
CREATE TABLE archives (
    run_id      TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    events      BIGINT NOT NULL,
    first_seq   BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    file_hash   TEXT NOT NULL,
    archived_by TEXT NOT NULL,
    archived_at DOUBLE PRECISION NOT NULL
);

-- Number, chain, insert and announce a transaction's events in one call. rows is a JSON
-- array of [run_id, task_id, kind, actor, at, payload, digest_hex]; returns the last seq.
CREATE FUNCTION baton_append_events(n BIGINT, rows JSON) RETURNS BIGINT
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
    RETURN last_seq;
END
$$;
