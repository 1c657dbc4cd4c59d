-- name: APITokenInsert :one
INSERT INTO api_tokens (user_id, name, role, token_sha256, prefix, expires_at)
VALUES (@user_id, @name, @role, @token_sha256, @prefix, sqlc.narg(expires_at))
RETURNING *;

-- name: APITokenGetByHash :one
SELECT * FROM api_tokens WHERE token_sha256 = @token_sha256;

-- name: APITokenListByUser :many
SELECT * FROM api_tokens WHERE user_id = @user_id ORDER BY created_at DESC;

-- name: APITokenGet :one
SELECT * FROM api_tokens WHERE id = @id;

-- name: APITokenList :many
-- Every token with its owner, for the admin page; the hash never leaves the database.
SELECT t.id, t.user_id, u.email AS user_email, t.name, t.role, t.prefix, t.last_used_at, t.expires_at,
       t.revoked_at, t.created_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC, t.id DESC;

-- name: APITokenRevoke :one
UPDATE api_tokens SET revoked_at = now() WHERE id = @id AND revoked_at IS NULL RETURNING *;

-- name: APITokenTouch :exec
-- Records use at most once a minute, so a busy script does not turn every request into a write.
UPDATE api_tokens SET last_used_at = now()
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: APITokenAuthenticate :one
-- One round trip per API request: the token and the state of its user (last_used_at tells whether the
-- once-a-minute touch is due, so most requests make no second round trip).
SELECT t.id, t.user_id, t.name, t.role, t.expires_at, t.revoked_at, t.last_used_at,
       u.email AS user_email, u.role AS user_role, u.disabled AS user_disabled
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_sha256 = @token_sha256;

-- name: APITokenRevokeForUser :execrows
-- A password change or reset revokes every live token of the user (README: Security).
UPDATE api_tokens SET revoked_at = now() WHERE user_id = @user_id AND revoked_at IS NULL;
