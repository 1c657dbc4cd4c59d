-- name: AuditInsert :one
-- Outcome is 'done' unless given ('failed' for a refusal recorded outside a request's started row).
INSERT INTO audit_events (actor_user_id, actor_token_id, actor, action, target, ip, user_agent, details, outcome)
VALUES (sqlc.narg(actor_user_id), sqlc.narg(actor_token_id), @actor, @action, @target, @ip, @user_agent, @details,
        COALESCE(sqlc.narg(outcome)::text, 'done'))
RETURNING *;

-- name: AuditList :many
SELECT * FROM audit_events ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: AuditSearch :many
-- The audit log page and its CSV export: every filter optional, newest first, keyset-paginated on id.
SELECT * FROM audit_events
WHERE (sqlc.narg(actor)::text IS NULL OR actor ILIKE '%' || sqlc.narg(actor) || '%')
  AND (sqlc.narg(action)::text IS NULL OR action LIKE sqlc.narg(action) || '%')
  AND (sqlc.narg(since)::timestamptz IS NULL OR created_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR created_at < sqlc.narg(until))
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
ORDER BY id DESC
LIMIT @lim;

-- name: AuditStart :one
-- The write-ahead row of a state-changing request (handlers.auditStart): written before the handler acts.
INSERT INTO audit_events (actor_user_id, actor_token_id, actor, action, target, ip, user_agent, outcome)
VALUES (sqlc.narg(actor_user_id), sqlc.narg(actor_token_id), @actor, @action, @target, @ip, @user_agent, 'started')
RETURNING id;

-- name: AuditRecord :execrows
-- The handler's own record of what it did, written into the request's started row.
-- The actor is set again: a sign-in starts anonymous and is recorded as the account that signed in.
-- Outcome is 'done' (it happened) or 'failed' (a refusal the handler records with its reason).
UPDATE audit_events SET action = @action, target = @target, details = @details, outcome = @outcome::text,
       actor = @actor, actor_user_id = sqlc.narg(actor_user_id), actor_token_id = sqlc.narg(actor_token_id)
WHERE id = @id AND outcome = 'started';

-- name: AuditEnd :exec
-- A started row the handler did not record: the request failed or changed nothing.
UPDATE audit_events SET outcome = @outcome, details = @details
WHERE id = @id AND outcome = 'started';
