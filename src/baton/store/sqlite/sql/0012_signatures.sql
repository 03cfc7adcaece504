-- Ed25519 keys per participant and the signatures they made over event hashes
-- (docs/audit.md: signed events). A key is never deleted: revoking it sets revoked_at,
-- and a signature made after that fails verification.
CREATE TABLE participant_keys (
    key_id      TEXT PRIMARY KEY,
    participant TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    added_at    REAL NOT NULL,
    revoked_at  REAL
);
CREATE INDEX participant_keys_by_participant ON participant_keys (participant);
CREATE TABLE event_signatures (
    seq       INTEGER NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    signed_at REAL NOT NULL,
    PRIMARY KEY (seq, key_id)
)
