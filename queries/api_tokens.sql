-- name: APITokenInsert :one
INSERT INTO api_tokens (user_id, name, role, token_sha256, prefix, expires_at)
VALUES (@user_id, @name, @role, @token_sha256, @prefix, sqlc.narg(expires_at))
RETURNING *;

-- name: APITokenGetByHash :one
SELECT * FROM api_tokens WHERE token_sha256 = @token_sha256;

-- name: APITokenListByUser :many
SELECT * FROM api_tokens WHERE user_id = @user_id ORDER BY created_at DESC;
