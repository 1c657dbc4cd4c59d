-- name: AlertListOpen :many
SELECT * FROM alerts WHERE state = 'open' ORDER BY opened_at DESC;

-- name: AlertGet :one
SELECT * FROM alerts WHERE id = @id;
