-- name: MediaMigrationGet :one
SELECT * FROM media_migrations WHERE id = @id;

-- name: MediaMigrationList :many
SELECT * FROM media_migrations ORDER BY queued_at DESC, id DESC LIMIT @lim;

-- name: MediaMigrationLatestFinished :one
-- The newest real (not dry-run) migration that ended; the "media migration failures" alert follows it.
SELECT * FROM media_migrations WHERE NOT dry_run AND status IN ('succeeded', 'warning', 'failed')
ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1;

-- name: MediaMigrationInsert :one
INSERT INTO media_migrations (dry_run, backup_first, delete_local, created_by, status)
VALUES (@dry_run, @backup_first, @delete_local, sqlc.narg(created_by), 'queued')
RETURNING *;

-- name: MediaMigrationSetJob :exec
UPDATE media_migrations SET job_id = @job_id WHERE id = @id;

-- name: MediaMigrationActive :one
-- The run still queued or running: only one migration at a time.
SELECT * FROM media_migrations WHERE status IN ('queued', 'running') ORDER BY id DESC LIMIT 1;

-- name: MediaMigrationStart :one
UPDATE media_migrations SET status = 'running', started_at = COALESCE(started_at, now()), error = ''
WHERE id = @id AND status IN ('queued', 'running')
RETURNING *;

-- name: MediaMigrationSetBackup :exec
UPDATE media_migrations SET backup_id = @backup_id WHERE id = @id;

-- name: MediaMigrationProgress :exec
UPDATE media_migrations
SET total_files = @total_files, total_bytes = @total_bytes, uploaded = @uploaded, verified = @verified,
    skipped = @skipped, failed = @failed, deleted = @deleted
WHERE id = @id;

-- name: MediaMigrationFinish :one
UPDATE media_migrations
SET status = @status, finished_at = now(), details = @details, error = @error
WHERE id = @id AND status IN ('queued', 'running')
RETURNING *;

-- name: MediaMigrationFailOrphaned :many
-- Runs whose River job is gone or already final: nothing will ever finish them. Verified files stay
-- verified in the ledger, so a re-run resumes.
UPDATE media_migrations m
SET status = 'failed', finished_at = now(),
    error = COALESCE(NULLIF((SELECT j.errors[array_upper(j.errors, 1)]->>'error' FROM river_job j WHERE j.id = m.job_id), ''),
                     'its job ended without finishing the run') || '; verified files are kept, re-run to resume'
WHERE m.status IN ('queued', 'running') AND m.job_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM river_job j
                  WHERE j.id = m.job_id AND j.state NOT IN ('completed', 'cancelled', 'discarded'))
RETURNING m.id;
