-- A run's latest messages and escalations are read for every task a worker starts (its
-- context) and on every watchdog pass. Without these, "the last 50 messages" walked
-- the run's whole event log backwards when the run had few or none: the cost per task
-- grew with the run (1,111 tasks/s at 500 tasks, 339 at 4,000). Partial indexes hold
-- only those events, so every other event's insert does not pay for them.
CREATE INDEX events_messages ON events (run_id, seq) WHERE kind LIKE 'message.%';
CREATE INDEX events_escalations ON events (run_id, seq) WHERE kind LIKE 'escalation.%';
