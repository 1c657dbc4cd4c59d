-- name: VerificationListByBackup :many
SELECT * FROM verifications WHERE backup_id = @backup_id ORDER BY queued_at DESC, id DESC;

-- name: VerificationGet :one
SELECT * FROM verifications WHERE id = @id;
