-- name: RecoveryCreate :one
INSERT INTO recoveries (backup_id, requested_by, mode, table_name, selection)
VALUES (@backup_id, @requested_by, @mode, @table_name, @selection)
RETURNING *;

-- name: RecoveryFinish :one
UPDATE recoveries SET status = @status, summary = @summary, error = sqlc.narg(error), finished_at = now()
WHERE id = @id RETURNING *;

-- name: RecoverySetUndo :exec
-- Recorded before the recovery writes anything: the undo artifact exists before the clinic database changes.
UPDATE recoveries SET undo_key = @undo_key, undo_sha256 = @undo_sha256, undo_bytes = @undo_bytes WHERE id = @id;

-- name: RecoveryUndone :one
UPDATE recoveries SET status = 'undone', undone_at = now(), undone_by = @undone_by
WHERE id = @id AND status = 'succeeded' AND mode = 'apply' RETURNING *;

-- name: RecoveryGet :one
SELECT * FROM recoveries WHERE id = @id;

-- name: RecoveryListByBackup :many
SELECT * FROM recoveries WHERE backup_id = @backup_id ORDER BY id DESC LIMIT @lim;
