-- name: VerificationListByBackup :many
SELECT * FROM verifications WHERE backup_id = @backup_id ORDER BY queued_at DESC, id DESC;

-- name: VerificationGet :one
SELECT * FROM verifications WHERE id = @id;

-- name: VerificationInsert :one
INSERT INTO verifications (backup_id, level, created_by) VALUES (@backup_id, @level, sqlc.narg(created_by))
RETURNING *;

-- name: VerificationSetJob :exec
UPDATE verifications SET job_id = @job_id WHERE id = @id;

-- name: VerificationStart :one
-- Claims a queued verification; no row when it already ended (cancelled, or a retry after it finished).
UPDATE verifications SET status = 'running', started_at = now(), error = ''
WHERE id = @id AND status IN ('queued', 'running')
RETURNING *;

-- name: VerificationFinish :one
UPDATE verifications
SET status = @status, finished_at = now(),
    duration_ms = (extract(epoch FROM now() - COALESCE(started_at, queued_at)) * 1000)::bigint,
    rto_ms = sqlc.narg(rto_ms), details = @details, error = @error
WHERE id = @id
RETURNING *;

-- name: VerificationLatestDrillProven :one
-- The proven restore point of a kind (see BackupNewestProven) with its newest passing drill: the RTO it measured
-- and when it ran.
SELECT v.id AS verification_id, v.rto_ms, v.finished_at AS drilled_at, b.id AS backup_id, b.kind,
       b.finished_at AS backup_finished_at
FROM verifications v JOIN backups b ON b.id = v.backup_id
WHERE v.level = 'drill' AND v.status = 'succeeded' AND b.verify_state = 'proven' AND b.pruned_at IS NULL
  AND b.trigger <> 'upload' AND b.kind = @kind
ORDER BY b.finished_at DESC NULLS LAST, b.id DESC, v.finished_at DESC
LIMIT 1;

-- name: VerificationOrphaned :many
-- Verifications in flight whose River job is gone or already final: their worker died and nothing will end them.
SELECT v.id, v.level, COALESCE(j.state::text, '')::text AS job_state,
       COALESCE(j.errors[array_upper(j.errors, 1)]->>'error', '')::text AS last_error
FROM verifications v LEFT JOIN river_job j ON j.id = v.job_id
WHERE v.status IN ('queued', 'running') AND v.job_id IS NOT NULL
  AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'));

-- name: VerificationAbandon :execrows
UPDATE verifications SET status = 'failed', finished_at = now(), error = @error
WHERE id = @id AND status IN ('queued', 'running');

-- name: VerificationLiveDrill :one
-- The drill of a backup that is queued or running, if any: at most one at a time (issue 15). The caller holds
-- the backup's row lock (BackupLockForDrill), so two requests cannot both see none.
SELECT * FROM verifications
WHERE backup_id = @backup_id AND level = 'drill' AND status IN ('queued', 'running')
ORDER BY id LIMIT 1;

-- name: VerificationCountLiveDrillsByPeople :one
-- Drills queued or running that a person (not a schedule) asked for, bounded per role in handlers.
SELECT count(*) FROM verifications
WHERE level = 'drill' AND status IN ('queued', 'running') AND created_by IS NOT NULL;

-- name: VerificationCancel :execrows
-- Ends a verification an operator cancelled before (or without) its worker doing so.
UPDATE verifications SET status = 'cancelled', finished_at = now(), error = @error,
    duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE (extract(epoch FROM now() - started_at) * 1000)::bigint END
WHERE id = @id AND status IN ('queued', 'running');

-- name: VerificationProgress :exec
-- A drill's plain bytes restored so far of @progress_total (the backup's plain size).
UPDATE verifications SET progress_bytes = @progress_bytes, progress_total = @progress_total
WHERE id = @id AND status = 'running';

-- name: VerificationInsertFinished :one
-- A verification done outside a job (rescan-storage hashes what it adds), recorded as already finished.
INSERT INTO verifications (backup_id, level, status, started_at, finished_at, duration_ms, details, error)
VALUES (@backup_id, @level, @status, now(), now(), 0, @details, @error)
RETURNING *;
