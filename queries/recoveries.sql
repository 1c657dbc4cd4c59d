-- name: RecoveryCreate :one
INSERT INTO recoveries (backup_id, requested_by, mode, table_name, selection)
VALUES (@backup_id, @requested_by, @mode, @table_name, @selection)
RETURNING *;

-- name: RecoveryFinish :one
-- Only while it runs: a recovery the reconciler already ended (its process stalled past the stale period) keeps
-- the reconciler's verdict rather than flipping back to succeeded.
UPDATE recoveries SET status = @status, summary = @summary, error = sqlc.narg(error), finished_at = now()
WHERE id = @id AND status = 'running' RETURNING *;

-- name: RecoveryFinishLateApply :one
-- An --apply the reconciler failed (its process stalled past the stale period after recording its undo
-- artifact) whose process then went on and committed its rows: the row says what happened — the rows are
-- written, and the recovery can be undone — instead of the reconciler's "rolled back".
UPDATE recoveries SET status = 'succeeded', summary = @summary, error = @error::text, finished_at = now()
WHERE id = @id AND status = 'failed' AND mode = 'apply' AND undo_key IS NOT NULL RETURNING *;

-- name: RecoverySetUndo :execrows
-- Recorded before the recovery writes anything: the undo artifact exists before the clinic database changes.
-- It is also the recovery's last word with the catalog before it writes, so it is recorded (and the lease
-- renewed, on the database's clock) only while the recovery is still running and holds its lease: none when
-- the reconciler has ended it (a holder judged dead while it only stalled), which must then not write.
WITH beat AS (
    UPDATE job_leases l SET heartbeat_at = now()
    FROM recoveries r
    WHERE l.queue = 'recovery_' || r.id AND r.id = @id AND r.status = 'running'
    RETURNING l.queue
)
UPDATE recoveries rec SET undo_key = @undo_key, undo_sha256 = @undo_sha256, undo_bytes = @undo_bytes
WHERE rec.id = @id AND rec.status = 'running' AND EXISTS (SELECT 1 FROM beat);

-- name: RecoveryUndone :one
UPDATE recoveries SET status = 'undone', undone_at = now(), undone_by = @undone_by
WHERE id = @id AND status = 'succeeded' AND mode = 'apply' RETURNING *;

-- name: RecoveryGet :one
SELECT * FROM recoveries WHERE id = @id;

-- name: RecoveryListByBackup :many
SELECT * FROM recoveries WHERE backup_id = @backup_id ORDER BY id DESC LIMIT @lim;

-- name: RecoveryLeaseAcquire :execrows
-- The process running recovery @id holds a lease on the queue-form name recovery_<id> while it runs (no River
-- job: it runs in the CLI or inside an HTTP request). Taken only while the recovery is running, so a holder
-- that retries after the reconciler ended its recovery takes nothing.
INSERT INTO job_leases (queue, kind, holder)
SELECT 'recovery_' || r.id, 'recovery', @holder::text FROM recoveries r WHERE r.id = @id AND r.status = 'running'
ON CONFLICT (queue) DO UPDATE
SET kind = EXCLUDED.kind, holder = EXCLUDED.holder, acquired_at = now(), heartbeat_at = now();

-- name: RecoveryLeaseBeat :execrows
-- Renews recovery @id's lease on the database's clock; no row when the recovery is no longer running (the
-- reconciler ended it) or its lease is gone, which tells the holder to stop.
UPDATE job_leases l SET heartbeat_at = now()
FROM recoveries r
WHERE l.queue = 'recovery_' || r.id AND r.id = @id AND r.status = 'running';

-- name: RecoveriesAbandoned :many
-- Running recoveries whose process died, judged on the database's clock as JobsAbandoned judges jobs: the
-- lease on recovery_<id> was not renewed for @stale_seconds, or there is none and the recovery started that
-- long ago (its process died before taking it); and nothing is judged until the server has been up for
-- @restart_grace_seconds.
SELECT r.id, r.mode, r.selection, (r.undo_key IS NOT NULL)::boolean AS writing,
       COALESCE(l.holder, '')::text AS holder,
       COALESCE(l.heartbeat_at, r.created_at)::timestamptz AS last_seen
FROM recoveries r
LEFT JOIN job_leases l ON l.queue = 'recovery_' || r.id
WHERE r.status = 'running'
  AND COALESCE(l.heartbeat_at, r.created_at) < now() - make_interval(secs => @stale_seconds::double precision)
  AND pg_postmaster_start_time() < now() - make_interval(secs => @restart_grace_seconds::double precision)
ORDER BY r.id;

-- name: RecoveryAbandon :one
-- Fails a recovery the reconciler found dead, only while it is still running and its lease still stale or
-- missing (a holder that renewed meanwhile is alive), and drops that lease. Returns how many it failed (0 or 1).
WITH ended AS (
    UPDATE recoveries r SET status = 'failed', error = @error::text, finished_at = now()
    WHERE r.id = @id AND r.status = 'running'
      AND NOT EXISTS (SELECT 1 FROM job_leases l WHERE l.queue = 'recovery_' || r.id
                      AND l.heartbeat_at >= now() - make_interval(secs => @stale_seconds::double precision))
    RETURNING r.id
), released AS (
    DELETE FROM job_leases l USING ended WHERE l.queue = 'recovery_' || ended.id
)
SELECT count(*) FROM ended;

-- name: RecoveryAbandonNote :exec
-- The reconciler's full reason for a recovery it failed (RecoveryAbandon), once it has dropped the scratch
-- database: only while the row still holds the reconciler's verdict.
UPDATE recoveries SET error = @error::text WHERE id = @id AND status = 'failed';
