-- name: RestoreListByBackup :many
SELECT * FROM restores WHERE backup_id = @backup_id ORDER BY queued_at DESC, id DESC;

-- name: RestoreGet :one
SELECT * FROM restores WHERE id = @id;
