-- PostgresStore sends a guarded write (an UPDATE that must match exactly the row it read
-- and locked) together with the transaction's next statement or its COMMIT, so it never
-- sees the row count in between. The check therefore runs in the server: a guarded write
-- that matched no row aborts the whole transaction, COMMIT included.
CREATE FUNCTION baton_expect_one_row(changed BIGINT, what TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF changed <> 1 THEN
        RAISE EXCEPTION 'baton: % changed under a locked transaction; this is a store bug', what;
    END IF;
END $$;
