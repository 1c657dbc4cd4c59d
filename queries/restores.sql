-- name: RestoreListByBackup :many
SELECT * FROM restores WHERE backup_id = @backup_id ORDER BY queued_at DESC, id DESC;

-- name: RestoreGet :one
SELECT * FROM restores WHERE id = @id;

-- name: RestoreInsert :one
INSERT INTO restores (backup_id, target_kind, target, dry_run, requested_by, details)
VALUES (@backup_id, @target_kind, @target, @dry_run, sqlc.narg(requested_by), @details)
RETURNING *;

-- name: RestoreSetJob :exec
UPDATE restores SET job_id = @job_id WHERE id = @id;

-- name: RestoreStart :one
UPDATE restores SET status = 'running', started_at = now(), error = ''
WHERE id = @id AND status IN ('queued', 'running')
RETURNING *;

-- name: RestoreProgress :exec
-- Plain bytes restored so far of @progress_total (the backup's plain size).
UPDATE restores SET progress_bytes = @progress_bytes, progress_total = @progress_total WHERE id = @id AND status = 'running';

-- name: RestoreFinish :one
UPDATE restores SET status = @status, finished_at = now(), details = @details, error = @error
WHERE id = @id
RETURNING *;

-- name: RestoreOrphaned :many
-- Restores in flight whose River job is gone or already final.
SELECT r.id, r.target_kind, r.dry_run, r.details, COALESCE(j.state::text, '')::text AS job_state,
       COALESCE(j.errors[array_upper(j.errors, 1)]->>'error', '')::text AS last_error
FROM restores r LEFT JOIN river_job j ON j.id = r.job_id
WHERE r.status IN ('queued', 'running') AND r.job_id IS NOT NULL
  AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'));

-- name: RestoreAbandon :execrows
UPDATE restores SET status = 'failed', finished_at = now(), error = @error
WHERE id = @id AND status IN ('queued', 'running');

-- name: RestoreCancel :execrows
-- Ends a restore an operator cancelled before (or without) its worker doing so.
UPDATE restores SET status = 'cancelled', finished_at = now(), error = @error
WHERE id = @id AND status IN ('queued', 'running');
