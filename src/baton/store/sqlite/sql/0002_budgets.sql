-- Budgets and usage: what a run and each task may spend, and what they have spent.
ALTER TABLE runs ADD COLUMN budget TEXT;
ALTER TABLE runs ADD COLUMN tokens_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cost_used REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN paused_reason TEXT;
ALTER TABLE tasks ADD COLUMN tokens_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN cost_used REAL NOT NULL DEFAULT 0;
