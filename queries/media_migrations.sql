-- name: MediaMigrationGet :one
SELECT * FROM media_migrations WHERE id = @id;

-- name: MediaMigrationList :many
SELECT * FROM media_migrations ORDER BY queued_at DESC, id DESC LIMIT @lim;
