-- name: AuditInsert :one
INSERT INTO audit_events (actor_user_id, actor_token_id, actor, action, target, ip, user_agent, details)
VALUES (sqlc.narg(actor_user_id), sqlc.narg(actor_token_id), @actor, @action, @target, @ip, @user_agent, @details)
RETURNING *;

-- name: AuditList :many
SELECT * FROM audit_events ORDER BY created_at DESC, id DESC LIMIT @lim;
