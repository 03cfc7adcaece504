-- A duty's expiry as a double, like every other time in this schema. 0008 made it REAL,
-- which on PostgreSQL is a 4-byte float (SQLite's REAL is 8 bytes): at Unix times near
-- 1.8e9 it keeps a multiple of 128 s. A holder's "now + 10 s" was stored up to 64 s
-- early or late, so the watchdog duty was taken over while its holder lived (several
-- processes at once believed they held it, each until its next renewal) or left with a
-- dead holder for up to a minute. The tests' manual clock starts at 1e6, where a 4-byte
-- float still resolves 1/16 s, which is why nothing failed until a real clock ran it.
ALTER TABLE duties ALTER COLUMN expires_at TYPE DOUBLE PRECISION;
