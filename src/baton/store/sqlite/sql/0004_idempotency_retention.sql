-- When each idempotency key was recorded, so that old keys can be forgotten.
ALTER TABLE idempotency ADD COLUMN created_at REAL NOT NULL DEFAULT 0;
CREATE INDEX idempotency_age ON idempotency (created_at);
