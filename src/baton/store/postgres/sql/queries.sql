-- Named queries for PostgresStore, loaded by name ("-- name: x" starts a block).
-- Reads inside a write transaction lock the rows they return (FOR UPDATE), and claims
-- and the reaper skip rows other transactions hold (SKIP LOCKED).

-- name: insert_run
INSERT INTO runs (id, goal, state, roles, labels, created_at, finished_at, budget, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: get_run
SELECT id, goal, state, roles, labels, created_at, finished_at, budget, tokens_used, cost_used, claims,
       paused_reason, created_by
FROM runs WHERE id = %s;

-- name: list_runs
SELECT id, goal, state, roles, labels, created_at, finished_at, budget, tokens_used, cost_used, claims,
       paused_reason, created_by
FROM runs
ORDER BY created_at, (SELECT MIN(e.seq) FROM events e WHERE e.run_id = runs.id);

-- name: set_run_state
UPDATE runs SET state = %s, finished_at = %s, paused_reason = %s WHERE id = %s;

-- name: add_task_usage
UPDATE tasks SET tokens_used = tokens_used + %s, cost_used = cost_used + %s WHERE id = %s;

-- name: add_run_usage
UPDATE runs SET tokens_used = tokens_used + %s, cost_used = cost_used + %s, claims = claims + %s
WHERE id = %s;

-- name: next_created_seq
SELECT COALESCE(MAX(created_seq), 0) + 1 FROM tasks;

-- name: insert_task
INSERT INTO tasks (id, run_id, key, spec, role, priority, created_seq, state, queue_role,
                   token, attempts, failures, review_rounds, lease_owner, lease_kind,
                   lease_expires_at, not_before, pending_deps, output, last_error, feedback,
                   blocked_reason, updated_at, worked_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: insert_dep
INSERT INTO deps (task_id, dep_id) VALUES (%s, %s);

-- name: task_columns
t.id, t.run_id, t.key, t.spec, t.role, t.priority, t.created_seq, t.state, t.token,
t.attempts, t.failures, t.review_rounds, t.lease_owner, t.lease_kind, t.lease_expires_at,
t.not_before, t.pending_deps, t.output, t.last_error, t.feedback, t.blocked_reason,
t.updated_at, t.worked_by,
(SELECT COALESCE(json_agg(d.dep_id ORDER BY d.dep_id)::text, '[]') FROM deps d
 WHERE d.task_id = t.id) AS depends_on,
t.tokens_used, t.cost_used

-- name: get_task
SELECT {task_columns} FROM tasks t WHERE t.id = %s;

-- name: get_task_for_update
SELECT {task_columns} FROM tasks t WHERE t.id = %s FOR UPDATE OF t;

-- name: run_tasks_for_update
SELECT {task_columns} FROM tasks t WHERE t.run_id = %s ORDER BY t.created_seq FOR UPDATE OF t;

-- name: tasks_by_id
SELECT {task_columns} FROM tasks t WHERE t.id = ANY(%s::text[]);

-- name: tasks_by_id_for_update
SELECT {task_columns} FROM tasks t WHERE t.id = ANY(%s::text[]) ORDER BY t.created_seq FOR UPDATE OF t;

-- name: downstream
-- Every task waiting for the given one, through any number of dependencies (deps_by_dep).
WITH RECURSIVE down(id) AS (
    SELECT task_id FROM deps WHERE dep_id = %s
    UNION
    SELECT d.task_id FROM deps d JOIN down ON d.dep_id = down.id
)
SELECT id FROM down;

-- name: live_lease_runs
-- The runs of a participant's live leases, from the live leases (the tasks_lease index)
-- and not from a run's tasks: given the run id too, a planner picks the run's index
-- and walks the whole run.
SELECT t.run_id FROM tasks t WHERE t.lease_expires_at >= %s AND t.lease_owner = %s;

-- name: list_tasks
SELECT {task_columns} FROM tasks t WHERE t.run_id = %s ORDER BY t.created_seq;

-- name: find_claimable
SELECT {task_columns}, r.budget AS run_budget FROM tasks t JOIN runs r ON r.id = t.run_id AND r.state = 'active'
WHERE t.queue_role = %s AND t.not_before <= %s
  AND (t.state <> 'in_review' OR t.worked_by IS NULL OR t.worked_by <> %s)
ORDER BY t.priority DESC, t.created_seq LIMIT 1
FOR UPDATE OF t SKIP LOCKED;

-- name: any_run_paused
SELECT 1 FROM runs WHERE state = 'paused' LIMIT 1;

-- name: find_claimable_past_paused
-- find_claimable while some run is paused: that walk of tasks_claim would pass every
-- queued task of the paused run before reaching an active one (400 ms at 1,000,000).
-- Instead one descent of tasks_claim_run per active run, the best of them. The run and
-- role are matched as a row range, which only tasks_claim_run can seek and order: with
-- plain equalities and stale statistics (a big board just built, not yet analyzed) the
-- planner took tasks_claim with a filter inside the lateral, the same walk (75 ms at
-- 200,000 tasks).
SELECT {task_columns}, r.budget AS run_budget FROM runs r CROSS JOIN LATERAL (
    SELECT x.* FROM tasks x
    WHERE (x.run_id, x.queue_role) >= (r.id, %s) AND (x.run_id, x.queue_role) <= (r.id, %s)
      AND x.queue_role IS NOT NULL AND x.not_before <= %s
      AND (x.state <> 'in_review' OR x.worked_by IS NULL OR x.worked_by <> %s)
    ORDER BY x.run_id, x.queue_role, x.priority DESC, x.created_seq LIMIT 1
    FOR UPDATE OF x SKIP LOCKED
) t
WHERE r.state = 'active'
ORDER BY t.priority DESC, t.created_seq LIMIT 1;

-- name: find_claimable_in_run
SELECT {task_columns}, r.budget AS run_budget FROM tasks t JOIN runs r ON r.id = t.run_id AND r.state = 'active'
WHERE t.run_id = %s AND t.queue_role = %s AND t.not_before <= %s
  AND (t.state <> 'in_review' OR t.worked_by IS NULL OR t.worked_by <> %s)
ORDER BY t.priority DESC, t.created_seq LIMIT 1
FOR UPDATE OF t SKIP LOCKED;

-- name: update_task
-- Sent ahead of the next statement (see PgTx): the guard fails the transaction instead
-- of returning a row count nobody reads in time.
WITH changed AS (
    UPDATE tasks SET state = %s, queue_role = %s, token = %s, attempts = %s, failures = %s,
        review_rounds = %s, lease_owner = %s, lease_kind = %s, lease_expires_at = %s,
        not_before = %s, output = %s, last_error = %s, feedback = %s, blocked_reason = %s,
        updated_at = %s, worked_by = %s
    WHERE id = %s AND state = %s AND token = %s
    RETURNING 1
)
SELECT baton_expect_one_row((SELECT count(*) FROM changed), 'task ' || %s::text);

-- name: dependents
SELECT {task_columns} FROM tasks t JOIN deps x ON x.task_id = t.id
WHERE x.dep_id = %s ORDER BY t.created_seq
FOR UPDATE OF t;

-- name: settle_dependency
-- The settled dependents as they are now, locked by the update itself: no second read.
UPDATE tasks t SET pending_deps = t.pending_deps - 1
WHERE t.id IN (SELECT task_id FROM deps WHERE dep_id = %s) AND t.state IN ('pending', 'blocked')
RETURNING {task_columns};

-- name: expired_leases
SELECT {task_columns} FROM tasks t
WHERE t.lease_expires_at IS NOT NULL AND t.lease_expires_at < %s
ORDER BY t.lease_expires_at LIMIT %s
FOR UPDATE OF t SKIP LOCKED;

-- name: has_open_tasks
SELECT baton_open_task(%s, FALSE);

-- name: count_by_state
SELECT state, COUNT(*) FROM tasks WHERE run_id = %s GROUP BY state;

-- name: read_events
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE seq > %s ORDER BY seq LIMIT %s;

-- name: read_run_events
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s;

-- name: last_seq
SELECT last FROM event_counter WHERE id = 1;

-- name: get_idempotent
SELECT op, result FROM idempotency WHERE key = %s;

-- name: put_idempotent
INSERT INTO idempotency (key, op, result, created_at) VALUES (%s, %s, %s, %s);

-- name: forget_idempotency
DELETE FROM idempotency WHERE created_at < %s;

-- name: add_pending_deps
UPDATE tasks SET pending_deps = pending_deps + %s WHERE id = %s;

-- name: set_run_budget
UPDATE runs SET budget = %s WHERE id = %s;

-- name: latest_run_events_like
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = %s AND kind LIKE %s ORDER BY seq DESC LIMIT %s;

-- name: last_progress
SELECT seq, at FROM events
WHERE run_id = %s AND kind NOT IN ('task.lease_renewed', 'task.usage')
  AND kind NOT LIKE 'escalation.%%' AND kind NOT LIKE 'message.%%'
ORDER BY seq DESC LIMIT 1;

-- name: lock_run
SELECT id, goal, state, roles, labels, created_at, finished_at, budget, tokens_used, cost_used,
       claims, paused_reason, created_by
FROM runs WHERE id = %s FOR UPDATE;

-- name: open_task_held
SELECT baton_open_task(%s, TRUE);

-- name: stage_events
-- The events arrive as one JSON array of [run_id, task_id, kind, actor, at, payload,
-- digest] (one text parameter is far cheaper for the client to send than seven arrays);
-- the json type keeps each payload's text exactly as the client wrote it, which is what
-- its digest covers. baton_append_events (migration 0019) stages them, locking nothing;
-- the sequencer run after the commit numbers them.
SELECT baton_append_events(%(n)s, %(rows)s::json);

-- name: append_events_numbered
-- The same, numbered now (for a result that names their seqs): the counter row stays
-- locked until commit (migration 0019).
SELECT baton_number_events(%(n)s, %(rows)s::json);

-- name: sequence_events
SELECT baton_sequence_events();

-- name: catch_up
SELECT baton_catch_up(%s);

-- name: latest_run_messages
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = %s AND kind LIKE 'message.%%' ORDER BY seq DESC LIMIT %s;

-- name: latest_run_escalations
SELECT seq, run_id, task_id, kind, actor, payload, at FROM events
WHERE run_id = %s AND kind LIKE 'escalation.%%' ORDER BY seq DESC LIMIT %s;

-- name: ensure_duty
INSERT INTO duties (name, holder, token, expires_at) VALUES (%s, '', 0, 0) ON CONFLICT (name) DO NOTHING;

-- name: get_duty
SELECT holder, token, expires_at FROM duties WHERE name = %s FOR UPDATE;

-- name: read_duty
SELECT holder, token, expires_at FROM duties WHERE name = %s;

-- name: put_duty
UPDATE duties SET holder = %s, token = %s, expires_at = %s WHERE name = %s;

-- name: watched_tasks
-- What the watchdog looks at on every pass: open tasks that are blocked or were
-- returned by review at least n >= 1 times. The first two conditions are the
-- tasks_watched index's own (a partial index serves only a query that states them),
-- so it reads only those rows, however big the run.
SELECT {task_columns} FROM tasks t
WHERE t.run_id = %s AND t.state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
  AND (t.state = 'blocked' OR t.review_rounds > 0)
  AND (t.state = 'blocked' OR t.review_rounds >= %s)
ORDER BY t.created_seq;

-- name: watched_tasks_all_open
-- watched_tasks for n = 0: every open task (the open-tasks index).
SELECT {task_columns} FROM tasks t
WHERE t.run_id = %s AND t.state IN ('pending', 'ready', 'running', 'in_review', 'awaiting_approval', 'blocked')
ORDER BY t.created_seq;

-- name: participant_columns
id, kind, name, roles, grants, runs, created_at, rotated_at, revoked_at, token_hint, token_hash

-- name: insert_participant
INSERT INTO participants (id, kind, name, roles, grants, runs, created_at, rotated_at,
                          revoked_at, token_hint, token_hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: get_participant
SELECT {participant_columns} FROM participants WHERE id = %s;

-- name: lock_participant
SELECT {participant_columns} FROM participants WHERE id = %s FOR UPDATE;

-- name: participant_by_token
SELECT {participant_columns} FROM participants WHERE token_hash = %s;

-- name: list_participants
SELECT {participant_columns} FROM participants ORDER BY created_at, id;

-- name: update_participant
UPDATE participants SET kind = %s, name = %s, roles = %s, grants = %s, runs = %s, created_at = %s,
    rotated_at = %s, revoked_at = %s, token_hint = %s, token_hash = %s
WHERE id = %s;

-- name: artifact_columns
run_id, scope, name, kind, strategy, head, created_by, created_at, updated_at

-- name: version_columns
version, digest, size, base, merged_with, author, at

-- name: get_artifact
SELECT {artifact_columns} FROM artifacts WHERE run_id = %s AND scope = %s AND name = %s;

-- name: lock_artifact
SELECT {artifact_columns} FROM artifacts WHERE run_id = %s AND scope = %s AND name = %s FOR UPDATE;

-- name: insert_artifact
INSERT INTO artifacts (run_id, scope, name, kind, strategy, head, created_by, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING RETURNING head;

-- name: set_artifact_head
UPDATE artifacts SET head = %s, updated_at = %s WHERE run_id = %s AND scope = %s AND name = %s;

-- name: list_artifacts
SELECT {artifact_columns} FROM artifacts WHERE run_id = %s ORDER BY scope, name;

-- name: put_blob
INSERT INTO blobs (digest, content) VALUES (%s, %s) ON CONFLICT DO NOTHING;

-- name: get_blob
SELECT content FROM blobs WHERE digest = %s;

-- name: insert_version
INSERT INTO artifact_versions (run_id, scope, name, version, digest, size, base, merged_with,
                               author, at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: get_version
SELECT {version_columns} FROM artifact_versions
WHERE run_id = %s AND scope = %s AND name = %s AND version = %s;

-- name: list_versions
SELECT {version_columns} FROM artifact_versions
WHERE run_id = %s AND scope = %s AND name = %s ORDER BY version;

-- name: reservation_columns
r.id, r.resource, r.mode, r.run_id, r.task_id, r.holder, r.task_token, r.created_at,
t.lease_expires_at

-- name: live_reservations
-- A reservation lives while its task's work lease does: same token, not expired.
SELECT {reservation_columns} FROM reservations r JOIN tasks t ON t.id = r.task_id
WHERE t.token = r.task_token AND t.lease_kind = 'work' AND t.lease_expires_at >= %s
ORDER BY r.id;

-- name: purge_reservations
DELETE FROM reservations WHERE NOT EXISTS (
    SELECT 1 FROM tasks t WHERE t.id = reservations.task_id AND t.token = reservations.task_token
      AND t.lease_kind = 'work' AND t.lease_expires_at >= %s);

-- name: insert_reservation
INSERT INTO reservations (resource, mode, run_id, task_id, holder, task_token, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id;

-- name: delete_reservation
DELETE FROM reservations WHERE id = %s;

-- name: lock_reservations
-- Reservation decisions are serialised by one transaction-scoped advisory lock (the
-- rows to check may not exist yet, so there is no row to lock).
SELECT pg_advisory_xact_lock(7319017);

-- name: version_content
SELECT v.version, v.digest, v.size, v.base, v.merged_with, v.author, v.at, b.content
FROM artifact_versions v JOIN blobs b ON b.digest = v.digest
WHERE v.run_id = %s AND v.scope = %s AND v.name = %s AND v.version = %s;

-- name: lock_reservations_shared
-- Artifact writes hold it shared: they check reservations, and no reservation may be
-- granted between that check and their commit.
SELECT pg_advisory_xact_lock_shared(7319017);

-- name: chain_links
-- The audit chain in seq order: live events (their digest is recomputed from the row)
-- and archived ones (only their digest and hash are kept).
SELECT seq, run_id, task_id, kind, actor, payload, at, hash, NULL FROM events
WHERE seq > %s AND seq <= %s
UNION ALL
SELECT seq, run_id, NULL, NULL, NULL, NULL, NULL, hash, digest FROM archived_events
WHERE seq > %s AND seq <= %s
ORDER BY 1 LIMIT %s;

-- name: link_hash
SELECT hash FROM events WHERE seq = %s UNION ALL SELECT hash FROM archived_events WHERE seq = %s;

-- name: run_span
SELECT MIN(s), MAX(s) FROM (
    SELECT MIN(seq) AS s FROM events WHERE run_id = %s UNION ALL
    SELECT MAX(seq) FROM events WHERE run_id = %s UNION ALL
    SELECT MIN(seq) FROM archived_events WHERE run_id = %s UNION ALL
    SELECT MAX(seq) FROM archived_events WHERE run_id = %s
) AS spans;

-- name: read_chain_head
SELECT last, head FROM event_counter WHERE id = 1;

-- name: get_effect
SELECT task_id, step, key, state, result, attempts, started_by, started_token, started_at, done_at FROM effects WHERE task_id = %s AND step = %s FOR UPDATE;

-- name: put_effect
INSERT INTO effects (task_id, step, key, state, result, attempts, started_by, started_token, started_at, done_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (task_id, step) DO UPDATE SET state = excluded.state, result = excluded.result,
    attempts = excluded.attempts, started_by = excluded.started_by,
    started_token = excluded.started_token, started_at = excluded.started_at,
    done_at = excluded.done_at;

-- name: list_effects
SELECT task_id, step, key, state, result, attempts, started_by, started_token, started_at, done_at FROM effects WHERE task_id = %s ORDER BY started_at, step;

-- name: current_policy
SELECT version, document, set_by, set_at FROM policies ORDER BY version DESC LIMIT 1;

-- name: insert_policy
INSERT INTO policies (version, document, set_by, set_at) VALUES (%s, %s, %s, %s);

-- name: set_run_policy
INSERT INTO run_policies (run_id, version) VALUES (%s, %s);

-- name: run_policy
SELECT p.version, p.document, p.set_by, p.set_at FROM run_policies r
JOIN policies p ON p.version = r.version WHERE r.run_id = %s;

-- name: lock_policies
SELECT pg_advisory_xact_lock(7319018);

-- name: archive_rows
SELECT seq, run_id, task_id, kind, actor, payload, at, hash FROM events
WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s;

-- name: insert_archived
INSERT INTO archived_events (seq, run_id, digest, hash) VALUES (%s, %s, %s, %s);

-- name: delete_run_events
DELETE FROM events WHERE run_id = %s AND seq <= %s;

-- name: insert_archive
INSERT INTO archives (run_id, path, events, first_seq, last_seq, file_hash, archived_by, archived_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s);

-- name: get_archive
SELECT run_id, path, events, first_seq, last_seq, file_hash, archived_by, archived_at
FROM archives WHERE run_id = %s;

-- name: archived_links
SELECT seq, digest, hash FROM archived_events WHERE run_id = %s ORDER BY seq;

-- name: insert_key
INSERT INTO participant_keys (key_id, participant, public_key, added_at, revoked_at)
VALUES (%s, %s, %s, %s, NULL);

-- name: revoke_keys
UPDATE participant_keys SET revoked_at = %s WHERE participant = %s AND revoked_at IS NULL;

-- name: active_key
SELECT key_id, participant, public_key, added_at, revoked_at FROM participant_keys
WHERE participant = %s AND revoked_at IS NULL;

-- name: all_keys
SELECT key_id, participant, public_key, added_at, revoked_at FROM participant_keys;

-- name: insert_signature
INSERT INTO event_signatures (seq, key_id, signature, signed_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (seq, key_id) DO NOTHING;

-- name: event_actor_hash
SELECT actor, hash FROM events WHERE seq = %s;

-- name: signatures_between
SELECT s.seq, s.key_id, s.signature, s.signed_at, e.hash, e.actor FROM event_signatures s
LEFT JOIN events e ON e.seq = s.seq WHERE s.seq > %s AND s.seq <= %s ORDER BY s.seq;

-- name: purge_rate
DELETE FROM rate_counts WHERE participant = %s AND rule = %s AND window_start < %s;

-- name: bump_rate
INSERT INTO rate_counts (participant, rule, window_start, count) VALUES (%s, %s, %s, 1)
ON CONFLICT (participant, rule, window_start) DO UPDATE SET count = rate_counts.count + 1
RETURNING count;

-- name: role_usage
SELECT COALESCE(SUM(tokens_used), 0), COALESCE(SUM(cost_used), 0) FROM tasks
WHERE run_id = %s AND role = %s;

-- name: ready_by_role
SELECT queue_role, COUNT(*) FROM tasks WHERE run_id = %s AND queue_role IS NOT NULL
GROUP BY queue_role;

-- name: claim_one_trip
-- The generated functions of migration 0016 (store/postgres/one_trip.py), each sent with
-- BEGIN and COMMIT as one simple query; a row of nulls means "take the general path".
SELECT {task_columns} FROM baton_claim_one_trip(%s, %s, %s, %s, %s, %s, %s) t;

-- name: submit_one_trip
SELECT {task_columns} FROM baton_submit_one_trip(%s, %s, %s, %s, %s, %s) t;

-- name: submit_one_trip_keyed
-- Migration 0021: the same submit, recording its idempotency key in the same trip.
SELECT {task_columns} FROM baton_submit_one_trip_keyed(%s, %s, %s, %s, %s, %s, %s, %s) t;

-- name: submit_and_claim_one_trip
-- Migration 0025: a submit and the submitter's next claim, key recorded if given.
SELECT {task_columns} FROM baton_submit_and_claim_one_trip(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) t;
