-- name: EmailGet :one
SELECT * FROM emails WHERE id = @id;

-- name: EmailList :many
SELECT * FROM emails ORDER BY created_at DESC, id DESC LIMIT @lim;
