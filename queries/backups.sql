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
-- The newest backup of each kind pisbackup made, whatever its status, for the dashboard: one index probe per
-- kind (backups_kind_queued_idx) rather than a DISTINCT ON over the whole history. Uploads are left out: the
-- dashboard's "last backup" is what pisbackup is doing for the clinic, and an upload is never its recovery point.
SELECT b.* FROM unnest(ARRAY['database', 'full', 'media']::text[]) AS k(kind)
CROSS JOIN LATERAL (
    SELECT * FROM backups WHERE backups.kind = k.kind AND backups.trigger <> 'upload' ORDER BY queued_at DESC, id DESC LIMIT 1
) AS b
ORDER BY b.kind;

-- name: BackupLatestGood :one
-- The newest good backup of a kind that counts as the clinic's recovery point: finished, not pruned, not failed
-- by its newest verification of any level, and made by pisbackup (never an upload). The verdict, the retention
-- guard, scheduled drills and `verify-backup --latest` all mean this.
SELECT * FROM backups
WHERE kind = @kind AND status IN ('succeeded', 'warning') AND pruned_at IS NULL AND trigger <> 'upload'
  AND verify_state <> 'failed'
ORDER BY finished_at DESC, id DESC
LIMIT 1;

-- name: BackupByStorageKey :one
SELECT * FROM backups WHERE storage_key = @storage_key LIMIT 1;

-- name: BackupCount :one
SELECT count(*) FROM backups;

-- name: BackupOrphaned :many
-- In-flight rows whose River job is gone or already in a final state: nothing will ever finish them.
SELECT b.id, COALESCE(j.state::text, '')::text AS job_state,
       COALESCE(j.errors[array_upper(j.errors, 1)]->>'error', '')::text AS last_error
FROM backups b LEFT JOIN river_job j ON j.id = b.job_id
WHERE b.status IN ('queued', 'running') AND b.job_id IS NOT NULL
  AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'));

-- name: BackupMarkPruned :one
-- Records that a backup's stored object is gone; the row stays as history.
UPDATE backups SET pruned_at = COALESCE(pruned_at, now()) WHERE id = @id RETURNING *;

-- name: BackupLatestFinalByKind :many
-- The newest finished top-level backup of each kind that pisbackup made (uploads excluded): the "backup failed"
-- state follows it, so two failures in a row stay one alert and the next good backup of the kind clears it,
-- whatever (schedule, Back up now, CLI) started either.
SELECT DISTINCT ON (kind) * FROM backups
WHERE status IN ('succeeded', 'warning', 'failed') AND parent_id IS NULL AND trigger <> 'upload'
ORDER BY kind, finished_at DESC NULLS LAST, id DESC;

-- name: BackupOutcomesSince :one
-- Success counts for alert e-mails and the dashboard: cancelled runs are neither good nor bad.
-- Uploads are not pisbackup's backups and count for neither.
SELECT count(*) FILTER (WHERE status IN ('succeeded', 'warning'))::bigint AS good, count(*)::bigint AS total
FROM backups
WHERE status IN ('succeeded', 'warning', 'failed') AND parent_id IS NULL AND trigger <> 'upload'
  AND finished_at >= @since::timestamptz;

-- name: BackupRetentionCandidates :many
-- One schedule's top-level backups with what retention must know: drilled (proven: its newest drill passed and
-- no level's newest verification failed), verify_failed (some level's newest verification failed: the backup
-- is not good, never counts toward keep_* and is never the reason a good one is pruned; backups.verify_state,
-- the one definition the recoverability state uses too), and in use by a verify or restore.
SELECT b.*,
       (b.verify_state = 'proven')::boolean AS drilled,
       (b.verify_state = 'failed')::boolean AS verify_failed,
       (EXISTS (SELECT 1 FROM verifications v WHERE v.backup_id = b.id AND v.status IN ('queued', 'running'))
        OR EXISTS (SELECT 1 FROM restores r WHERE r.backup_id = b.id AND r.status IN ('queued', 'running')))::boolean AS in_use
FROM backups b
WHERE b.schedule_id = @schedule_id AND b.parent_id IS NULL
ORDER BY b.queued_at DESC, b.id DESC;

-- name: BackupListChildren :many
SELECT * FROM backups WHERE parent_id = @parent_id ORDER BY id;

-- name: BackupFinishedSince :many
-- Finished top-level backups for the health page's size, duration and success charts.
SELECT * FROM backups
WHERE parent_id IS NULL AND finished_at >= @since AND status IN ('succeeded', 'warning', 'failed')
ORDER BY finished_at;

-- name: BackupNewestProven :one
-- The newest backup pisbackup made whose newest drill passed and whose newest verification of every level
-- passed (verify_state 'proven'), not pruned: the proven restore point. Uploads never count.
SELECT * FROM backups
WHERE verify_state = 'proven' AND pruned_at IS NULL AND trigger <> 'upload'
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
ORDER BY finished_at DESC NULLS LAST, id DESC
LIMIT 1;

-- name: BackupVerifyFailed :many
-- Backups pisbackup made, still stored, whose newest verification of some level failed, with that verification:
-- each keeps its "verification failed" alert open until it is re-verified good or deleted.
SELECT b.id, b.kind, b.schedule_id, b.finished_at, v.id AS verification_id, v.level, v.error,
       v.finished_at AS verified_at
FROM backups b JOIN verifications v ON v.id = b.verify_failed_id
WHERE b.verify_state = 'failed' AND b.pruned_at IS NULL AND b.trigger <> 'upload'
ORDER BY b.finished_at DESC NULLS LAST, b.id DESC;

-- name: BackupNextID :one
-- Reserves an id before a row exists: an upload names its storage key with it and inserts the row only once
-- the file proved valid.
SELECT nextval(pg_get_serial_sequence('backups', 'id'))::bigint;

-- name: BackupInsertComplete :one
-- A finished backup known from elsewhere: an upload, or a manifest found by rescan-storage.
INSERT INTO backups (id, kind, status, trigger, parent_id, created_by, queued_at, started_at, finished_at,
    duration_ms, bytes_read, bytes_stored, progress_bytes, sha256, storage_key, encrypted, recipients_fingerprint,
    pg_dump_version, server_version, source_redacted, format, manifest, warnings)
VALUES (@id, @kind, @status, @trigger, sqlc.narg(parent_id), sqlc.narg(created_by), @started_at, @started_at,
    @finished_at, sqlc.narg(duration_ms),
    @bytes_read, @bytes_stored, @bytes_read, @sha256, @storage_key, @encrypted, @recipients_fingerprint,
    @pg_dump_version, @server_version, @source_redacted, @format, @manifest, @warnings)
RETURNING *;

-- name: BackupSyncIDSequence :exec
-- After rows were inserted with explicit ids (rescan-storage keeps the original ids), new rows must not collide.
SELECT setval(pg_get_serial_sequence('backups', 'id'), GREATEST((SELECT max(id) FROM backups), 1));

-- name: BackupLockForDrill :one
-- Locks a backup's row for the rest of the transaction, so one-drill-per-backup checks cannot race.
SELECT id FROM backups WHERE id = @id FOR UPDATE;

-- name: BackupLatestPerSchedule :many
-- Each schedule's newest backup: the schedules list's "Last run" and its outcome.
SELECT DISTINCT ON (schedule_id) schedule_id::bigint AS schedule_id, id, status, error, queued_at
FROM backups
WHERE schedule_id IS NOT NULL
ORDER BY schedule_id, queued_at DESC, id DESC;
