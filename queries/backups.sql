-- name: BackupInsert :one
INSERT INTO backups (kind, status, trigger, schedule_id, parent_id, created_by, encrypted, source_redacted, format)
VALUES (@kind, 'queued', @trigger, sqlc.narg(schedule_id), sqlc.narg(parent_id), sqlc.narg(created_by), @encrypted,
        @source_redacted, @format)
RETURNING *;

-- name: BackupSetJob :exec
UPDATE backups SET job_id = @job_id WHERE id = @id;

-- name: BackupGet :one
SELECT * FROM backups WHERE id = @id;

-- name: BackupActiveByKind :one
-- The newest backup of a kind still queued or running: "only one backup per kind at a time".
SELECT * FROM backups
WHERE kind = @kind AND status IN ('queued', 'running')
ORDER BY queued_at DESC, id DESC
LIMIT 1;

-- name: BackupStart :one
-- Claims a queued backup for a worker; returns no row when it was cancelled or already finished.
UPDATE backups
SET status = 'running', started_at = COALESCE(started_at, now()), heartbeat_at = now(), error = ''
WHERE id = @id AND status IN ('queued', 'running')
RETURNING *;

-- name: BackupProgress :exec
UPDATE backups
SET progress_bytes = @progress_bytes, progress_total = @progress_total, heartbeat_at = now()
WHERE id = @id AND status = 'running';

-- name: BackupSucceed :one
UPDATE backups
SET status = @status, finished_at = now(),
    duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint,
    bytes_read = @bytes_read, bytes_stored = @bytes_stored, progress_bytes = @bytes_read,
    sha256 = @sha256, storage_key = @storage_key, encrypted = @encrypted,
    recipients_fingerprint = @recipients_fingerprint, pg_dump_version = @pg_dump_version,
    server_version = @server_version, manifest = @manifest, warnings = @warnings, heartbeat_at = now()
WHERE id = @id
RETURNING *;

-- name: BackupFail :one
-- Ends a backup that did not produce an artifact. Only touches rows still in flight, so a late failure can
-- never overwrite a success.
UPDATE backups
SET status = @status, finished_at = now(),
    duration_ms = CASE WHEN started_at IS NULL THEN NULL
                       ELSE (extract(epoch FROM now() - started_at) * 1000)::bigint END,
    error = @error
WHERE id = @id AND status IN ('queued', 'running')
RETURNING *;

-- name: BackupList :many
-- Newest first, cursor-paginated on (queued_at, id); every filter is optional.
SELECT * FROM backups
WHERE (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(since)::timestamptz IS NULL OR queued_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR queued_at < sqlc.narg(until))
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (queued_at, id) < (sqlc.narg(before_at)::timestamptz, sqlc.narg(before_id)::bigint))
ORDER BY queued_at DESC, id DESC
LIMIT @lim;

-- name: BackupListRunning :many
SELECT * FROM backups WHERE status IN ('queued', 'running') ORDER BY queued_at, id;

-- name: BackupLatestByKind :many
-- The newest backup of each kind, whatever its status, for the dashboard.
SELECT DISTINCT ON (kind) * FROM backups ORDER BY kind, queued_at DESC, id DESC;

-- name: BackupLatestGood :one
SELECT * FROM backups
WHERE kind = @kind AND status IN ('succeeded', 'warning') AND pruned_at IS NULL
ORDER BY finished_at DESC, id DESC
LIMIT 1;

-- name: BackupStale :many
-- Rows a worker claims to be running but that have not heartbeated since @before: their process died.
SELECT * FROM backups WHERE status = 'running' AND COALESCE(heartbeat_at, started_at, queued_at) < @before::timestamptz;

-- name: BackupByStorageKey :one
SELECT * FROM backups WHERE storage_key = @storage_key LIMIT 1;

-- name: BackupCount :one
SELECT count(*) FROM backups;

-- name: BackupOrphaned :many
-- In-flight rows whose River job is gone or already in a final state: nothing will ever finish them.
SELECT b.id, COALESCE(j.state::text, '')::text AS job_state
FROM backups b LEFT JOIN river_job j ON j.id = b.job_id
WHERE b.status IN ('queued', 'running') AND b.job_id IS NOT NULL
  AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'));
