-- Named queries for SqliteStore, loaded by name ("-- name: x" starts a block).

-- name: insert_run
INSERT INTO runs (id, goal, state, roles, labels, created_at, finished_at, budget, created_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: get_run
SELECT id, goal, state, roles, labels, created_at, finished_at, budget, tokens_used, cost_used, claims,
       paused_reason, created_by
FROM runs WHERE id = ?;

-- name: list_runs
SELECT id, goal, state, roles, labels, created_at, finished_at, budget, tokens_used, cost_used, claims,
       paused_reason, created_by
FROM runs
ORDER BY created_at, (SELECT MIN(e.seq) FROM events e WHERE e.run_id = runs.id);

-- name: set_run_state
UPDATE runs SET state = ?, finished_at = ?, paused_reason = ? WHERE id = ?;

-- name: add_task_usage
UPDATE tasks SET tokens_used = tokens_used + ?, cost_used = cost_used + ? WHERE id = ?;

-- name: add_run_usage
UPDATE runs SET tokens_used = tokens_used + ?, cost_used = cost_used + ?, claims = claims + ?
WHERE id = ?;

-- name: next_created_seq
SELECT COALESCE(MAX(created_seq), 0) + 1 FROM tasks;

-- name: insert_task
INSERT INTO tasks (id, run_id, key, spec, role, priority, created_seq, state, queue_role,
                   token, attempts, failures, review_rounds, lease_owner, lease_kind,
                   lease_expires_at, not_before, pending_deps, output, last_error, feedback,
                   blocked_reason, updated_at, worked_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_dep
INSERT INTO deps (task_id, dep_id) VALUES (?, ?);

-- name: task_columns
t.id, t.run_id, t.key, t.spec, t.role, t.priority, t.created_seq, t.state, t.token,
t.attempts, t.failures, t.review_rounds, t.lease_owner, t.lease_kind, t.lease_expires_at,
t.not_before, t.pending_deps, t.output, t.last_error, t.feedback, t.blocked_reason,
t.updated_at, t.worked_by,
(SELECT json_group_array(d.dep_id) FROM deps d WHERE d.task_id = t.id) AS depends_on,
t.tokens_used, t.cost_used

-- name: get_task
SELECT {task_columns} FROM tasks t WHERE t.id = ?;

-- name: downstream
-- Every task waiting for the given one, through any number of dependencies (deps_by_dep).
WITH RECURSIVE down(id) AS (
    SELECT task_id FROM deps WHERE dep_id = ?
    UNION
    SELECT d.task_id FROM deps d JOIN down ON d.dep_id = down.id
)
SELECT id FROM down;

-- name: live_lease_runs
-- The runs of a participant's live leases, from the live leases (the tasks_lease index)
-- and not from a run's tasks: given the run id too, a planner picks the run's index
-- and walks the whole run.
SELECT t.run_id FROM tasks t WHERE t.lease_expires_at >= ? AND t.lease_owner = ?;

-- name: list_tasks
SELECT {task_columns} FROM tasks t WHERE t.run_id = ? ORDER BY t.created_seq;

-- name: find_claimable
SELECT {task_columns}, r.budget AS run_budget FROM tasks t JOIN runs r ON r.id = t.run_id AND r.state = 'active'
WHERE t.queue_role = ? AND t.not_before <= ?
  AND (t.state <> 'in_review' OR t.worked_by IS NULL OR t.worked_by <> ?)
ORDER BY t.priority DESC, t.created_seq LIMIT 1;

-- name: any_run_paused
SELECT 1 FROM runs WHERE state = 'paused' LIMIT 1;

-- name: find_claimable_past_paused
-- find_claimable while some run is paused: that walk of tasks_claim would pass every
-- queued task of the paused run before reaching an active one (400 ms at 1,000,000).
-- Instead one descent of tasks_claim_run per active run, the best of them.
SELECT {task_columns}, r.budget AS run_budget FROM runs r JOIN tasks t ON t.id = (
    SELECT x.id FROM tasks x
    WHERE x.run_id = r.id AND x.queue_role = ? AND x.not_before <= ?
      AND (x.state <> 'in_review' OR x.worked_by IS NULL OR x.worked_by <> ?)
    ORDER BY x.priority DESC, x.created_seq LIMIT 1
)
WHERE r.state = 'active'
ORDER BY t.priority DESC, t.created_seq LIMIT 1;

-- name: find_claimable_in_run
SELECT {task_columns}, r.budget AS run_budget FROM tasks t JOIN runs r ON r.id = t.run_id AND r.state = 'active'
WHERE t.run_id = ? AND t.queue_role = ? AND t.not_before <= ?
  AND (t.state <> 'in_review' OR t.worked_by IS NULL OR t.worked_by <> ?)
ORDER BY t.priority DESC, t.created_seq LIMIT 1;

-- name: update_task
UPDATE tasks SET state = ?, queue_role = ?, token = ?, attempts = ?, failures = ?,
    review_rounds = ?, lease_owner = ?, lease_kind = ?, lease_expires_at = ?, not_before = ?,
    output = ?, last_error = ?, feedback = ?, blocked_reason = ?, updated_at = ?, worked_by = ?
WHERE id = ? AND state = ? AND token = ?;

-- name: dependents
SELECT {task_columns} FROM tasks t JOIN deps x ON x.task_id = t.id
WHERE x.dep_id = ? ORDER BY t.created_seq;

-- name: settle_dependency
UPDATE tasks SET pending_deps = pending_deps - 1
WHERE id IN (SELECT task_id FROM deps WHERE dep_id = ?) AND state IN ('pending', 'blocked')
RETURNING id, pending_deps, state;

-- name: expired_leases
SELECT {task_columns} FROM tasks t
WHERE t.lease_expires_at IS NOT NULL AND t.lease_expires_at < ?
ORDER BY t.lease_expires_at LIMIT ?;

-- name: has_open_tasks
SELECT 1 FROM tasks WHERE run_id = ?
AND state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
LIMIT 1;

-- name: count_by_state
SELECT state, COUNT(*) FROM tasks WHERE run_id = ? GROUP BY state;

-- name: append_event
INSERT INTO events (seq, run_id, task_id, kind, actor, payload, at, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: chain_head
SELECT seq, hash FROM event_chain WHERE id = 1;

-- name: put_chain_head
INSERT INTO event_chain (id, seq, hash) VALUES (1, ?, ?)
ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;

-- name: read_events
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE seq > ? ORDER BY seq LIMIT ?;

-- name: read_run_events
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?;

-- name: last_seq
SELECT COALESCE(MAX(seq), 0) FROM events;

-- name: get_idempotent
SELECT op, result FROM idempotency WHERE key = ?;

-- name: put_idempotent
INSERT INTO idempotency (key, op, result, created_at) VALUES (?, ?, ?, ?);

-- name: forget_idempotency
DELETE FROM idempotency WHERE created_at < ?;

-- name: add_pending_deps
UPDATE tasks SET pending_deps = pending_deps + ? WHERE id = ?;

-- name: set_run_budget
UPDATE runs SET budget = ? WHERE id = ?;

-- name: latest_run_events_like
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = ? AND kind LIKE ? ORDER BY seq DESC LIMIT ?;

-- name: last_progress
SELECT seq, at FROM events
WHERE run_id = ? AND kind NOT IN ('task.lease_renewed', 'task.usage')
  AND kind NOT LIKE 'escalation.%' AND kind NOT LIKE 'message.%'
ORDER BY seq DESC LIMIT 1;

-- name: latest_run_messages
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = ? AND kind LIKE 'message.%' ORDER BY seq DESC LIMIT ?;

-- name: latest_run_escalations
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = ? AND kind LIKE 'escalation.%' ORDER BY seq DESC LIMIT ?;

-- name: ensure_duty
INSERT OR IGNORE INTO duties (name, holder, token, expires_at) VALUES (?, '', 0, 0);

-- name: get_duty
SELECT holder, token, expires_at FROM duties WHERE name = ?;

-- name: read_duty
SELECT holder, token, expires_at FROM duties WHERE name = ?;

-- name: put_duty
UPDATE duties SET holder = ?, token = ?, expires_at = ? WHERE name = ?;

-- name: watched_tasks
-- What the watchdog looks at on every pass: open tasks that are blocked or were
-- returned by review at least n >= 1 times. The first two conditions are the
-- tasks_watched index's own (a partial index serves only a query that states them),
-- so it reads only those rows, however big the run.
SELECT {task_columns} FROM tasks t
WHERE t.run_id = ? AND t.state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
  AND (t.state = 'blocked' OR t.review_rounds > 0)
  AND (t.state = 'blocked' OR t.review_rounds >= ?)
ORDER BY t.created_seq;

-- name: watched_tasks_all_open
-- watched_tasks for n = 0: every open task (the open-tasks index).
SELECT {task_columns} FROM tasks t
WHERE t.run_id = ? AND t.state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
ORDER BY t.created_seq;

-- name: participant_columns
id, kind, name, roles, grants, runs, created_at, rotated_at, revoked_at, token_hint, token_hash

-- name: insert_participant
INSERT INTO participants (id, kind, name, roles, grants, runs, created_at, rotated_at,
                          revoked_at, token_hint, token_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: get_participant
SELECT {participant_columns} FROM participants WHERE id = ?;

-- name: lock_participant
SELECT {participant_columns} FROM participants WHERE id = ?;

-- name: participant_by_token
SELECT {participant_columns} FROM participants WHERE token_hash = ?;

-- name: list_participants
SELECT {participant_columns} FROM participants ORDER BY created_at, id;

-- name: update_participant
UPDATE participants SET kind = ?, name = ?, roles = ?, grants = ?, runs = ?, created_at = ?,
    rotated_at = ?, revoked_at = ?, token_hint = ?, token_hash = ?
WHERE id = ?;

-- name: artifact_columns
run_id, scope, name, kind, strategy, head, created_by, created_at, updated_at

-- name: version_columns
version, digest, size, base, merged_with, author, at

-- name: get_artifact
SELECT {artifact_columns} FROM artifacts WHERE run_id = ? AND scope = ? AND name = ?;

-- name: lock_artifact
SELECT {artifact_columns} FROM artifacts WHERE run_id = ? AND scope = ? AND name = ?;

-- name: insert_artifact
INSERT INTO artifacts (run_id, scope, name, kind, strategy, head, created_by, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING RETURNING head;

-- name: set_artifact_head
UPDATE artifacts SET head = ?, updated_at = ? WHERE run_id = ? AND scope = ? AND name = ?;

-- name: list_artifacts
SELECT {artifact_columns} FROM artifacts WHERE run_id = ? ORDER BY scope, name;

-- name: put_blob
INSERT INTO blobs (digest, content) VALUES (?, ?) ON CONFLICT DO NOTHING;

-- name: get_blob
SELECT content FROM blobs WHERE digest = ?;

-- name: insert_version
INSERT INTO artifact_versions (run_id, scope, name, version, digest, size, base, merged_with,
                               author, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: get_version
SELECT {version_columns} FROM artifact_versions
WHERE run_id = ? AND scope = ? AND name = ? AND version = ?;

-- name: list_versions
SELECT {version_columns} FROM artifact_versions
WHERE run_id = ? AND scope = ? AND name = ? ORDER BY version;

-- name: reservation_columns
r.id, r.resource, r.mode, r.run_id, r.task_id, r.holder, r.task_token, r.created_at,
t.lease_expires_at

-- name: live_reservations
-- A reservation lives while its task's work lease does: same token, not expired.
SELECT {reservation_columns} FROM reservations r JOIN tasks t ON t.id = r.task_id
WHERE t.token = r.task_token AND t.lease_kind = 'work' AND t.lease_expires_at >= ?
ORDER BY r.id;

-- name: purge_reservations
DELETE FROM reservations WHERE NOT EXISTS (
    SELECT 1 FROM tasks t WHERE t.id = reservations.task_id AND t.token = reservations.task_token
      AND t.lease_kind = 'work' AND t.lease_expires_at >= ?);

-- name: insert_reservation
INSERT INTO reservations (resource, mode, run_id, task_id, holder, task_token, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id;

-- name: delete_reservation
DELETE FROM reservations WHERE id = ?;

-- name: version_content
SELECT v.version, v.digest, v.size, v.base, v.merged_with, v.author, v.at, b.content
FROM artifact_versions v JOIN blobs b ON b.digest = v.digest
WHERE v.run_id = ? AND v.scope = ? AND v.name = ? AND v.version = ?;

-- name: chain_links
-- The audit chain in seq order: live events (their digest is recomputed from the row)
-- and archived ones (only their digest and hash are kept).
SELECT seq, run_id, task_id, kind, actor, payload, at, hash, NULL FROM events
WHERE seq > ? AND seq <= ?
UNION ALL
SELECT seq, run_id, NULL, NULL, NULL, NULL, NULL, hash, digest FROM archived_events
WHERE seq > ? AND seq <= ?
ORDER BY 1 LIMIT ?;

-- name: link_hash
SELECT hash FROM events WHERE seq = ? UNION ALL SELECT hash FROM archived_events WHERE seq = ?;

-- name: run_span
SELECT MIN(s), MAX(s) FROM (
    SELECT MIN(seq) AS s FROM events WHERE run_id = ? UNION ALL
    SELECT MAX(seq) FROM events WHERE run_id = ? UNION ALL
    SELECT MIN(seq) FROM archived_events WHERE run_id = ? UNION ALL
    SELECT MAX(seq) FROM archived_events WHERE run_id = ?
) AS spans;

-- name: unchained_events
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events ORDER BY seq;

-- name: set_event_hash
UPDATE events SET hash = ? WHERE seq = ?;

-- name: get_effect
SELECT task_id, step, key, state, result, attempts, started_by, started_token, started_at, done_at FROM effects WHERE task_id = ? AND step = ?;

-- name: put_effect
INSERT INTO effects (task_id, step, key, state, result, attempts, started_by, started_token, started_at, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (task_id, step) DO UPDATE SET state = excluded.state, result = excluded.result,
    attempts = excluded.attempts, started_by = excluded.started_by,
    started_token = excluded.started_token, started_at = excluded.started_at,
    done_at = excluded.done_at;

-- name: list_effects
SELECT task_id, step, key, state, result, attempts, started_by, started_token, started_at, done_at FROM effects WHERE task_id = ? ORDER BY started_at, step;

-- name: current_policy
SELECT version, document, set_by, set_at FROM policies ORDER BY version DESC LIMIT 1;

-- name: insert_policy
INSERT INTO policies (version, document, set_by, set_at) VALUES (?, ?, ?, ?);

-- name: set_run_policy
INSERT INTO run_policies (run_id, version) VALUES (?, ?);

-- name: run_policy
SELECT p.version, p.document, p.set_by, p.set_at FROM run_policies r
JOIN policies p ON p.version = r.version WHERE r.run_id = ?;

-- name: archive_rows
SELECT seq, run_id, task_id, kind, actor, payload, at, hash FROM events
WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?;

-- name: insert_archived
INSERT INTO archived_events (seq, run_id, digest, hash) VALUES (?, ?, ?, ?);

-- name: delete_run_events
DELETE FROM events WHERE run_id = ? AND seq <= ?;

-- name: insert_archive
INSERT INTO archives (run_id, path, events, first_seq, last_seq, file_hash, archived_by, archived_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: get_archive
SELECT run_id, path, events, first_seq, last_seq, file_hash, archived_by, archived_at
FROM archives WHERE run_id = ?;

-- name: archived_links
SELECT seq, digest, hash FROM archived_events WHERE run_id = ? ORDER BY seq;

-- name: insert_key
INSERT INTO participant_keys (key_id, participant, public_key, added_at, revoked_at)
VALUES (?, ?, ?, ?, NULL);

-- name: revoke_keys
UPDATE participant_keys SET revoked_at = ? WHERE participant = ? AND revoked_at IS NULL;

-- name: active_key
SELECT key_id, participant, public_key, added_at, revoked_at FROM participant_keys
WHERE participant = ? AND revoked_at IS NULL;

-- name: all_keys
SELECT key_id, participant, public_key, added_at, revoked_at FROM participant_keys;

-- name: insert_signature
INSERT INTO event_signatures (seq, key_id, signature, signed_at) VALUES (?, ?, ?, ?)
ON CONFLICT (seq, key_id) DO NOTHING;

-- name: event_actor_hash
SELECT actor, hash FROM events WHERE seq = ?;

-- name: signatures_between
SELECT s.seq, s.key_id, s.signature, s.signed_at, e.hash, e.actor FROM event_signatures s
LEFT JOIN events e ON e.seq = s.seq WHERE s.seq > ? AND s.seq <= ? ORDER BY s.seq;

-- name: purge_rate
DELETE FROM rate_counts WHERE participant = ? AND rule = ? AND window_start < ?;

-- name: bump_rate
INSERT INTO rate_counts (participant, rule, window_start, count) VALUES (?, ?, ?, 1)
ON CONFLICT (participant, rule, window_start) DO UPDATE SET count = count + 1
RETURNING count;

-- name: role_usage
SELECT COALESCE(SUM(tokens_used), 0), COALESCE(SUM(cost_used), 0) FROM tasks
WHERE run_id = ? AND role = ?;

-- name: ready_by_role
SELECT queue_role, COUNT(*) FROM tasks WHERE run_id = ? AND queue_role IS NOT NULL
GROUP BY queue_role;
