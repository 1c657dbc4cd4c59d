-- name: LeaseAcquireJob :exec
-- The worker about to run job @job_id::bigint takes its lease (a retry by another process takes it over).
INSERT INTO job_leases (job_id, kind, holder) VALUES (@job_id::bigint, @kind, @holder)
ON CONFLICT (job_id) DO UPDATE
SET kind = EXCLUDED.kind, holder = EXCLUDED.holder, acquired_at = now(), heartbeat_at = now(), waiting_for = '';

-- name: LeaseBeatJob :one
-- Renews a job's lease on the database's clock and tells the holder whether an operator asked it to stop.
UPDATE job_leases SET heartbeat_at = now(), waiting_for = @waiting_for
WHERE job_id = @job_id::bigint
RETURNING cancel_requested_at, cancel_requested_by;

-- name: LeaseReleaseJob :exec
DELETE FROM job_leases WHERE job_id = @job_id::bigint;

-- name: LeaseAcquireQueue :exec
-- A CLI process serving a private queue holds it while it lives, from before its first job is queued.
INSERT INTO job_leases (queue, holder) VALUES (@queue::text, @holder)
ON CONFLICT (queue) DO UPDATE SET holder = EXCLUDED.holder, acquired_at = now(), heartbeat_at = now();

-- name: LeaseBeatQueue :execrows
UPDATE job_leases SET heartbeat_at = now() WHERE queue = @queue::text;

-- name: LeaseReleaseQueue :exec
DELETE FROM job_leases WHERE queue = @queue::text;

-- name: LeaseGetJob :one
SELECT * FROM job_leases WHERE job_id = @job_id::bigint;

-- name: LeaseRequestCancel :execrows
-- Asks the live holder of job @job_id::bigint to stop; it sees the request at its next heartbeat (within a second).
UPDATE job_leases SET cancel_requested_at = COALESCE(cancel_requested_at, now()), cancel_requested_by = @by
WHERE job_id = @job_id::bigint AND heartbeat_at >= now() - make_interval(secs => @stale_seconds::double precision);

-- name: JobsAbandoned :many
-- River jobs nobody will ever finish, judged on the database's clock:
--   * running, but the lease of the process working it was not renewed for @stale_seconds (or the job has run
--     that long without ever taking one): that process died;
--   * waiting on a CLI process's private queue (named cli_…) whose lease is stale or gone: nothing else works
--     that queue, so the job would wait forever.
SELECT j.id, j.kind, j.queue, j.state::text AS state, j.args,
       COALESCE(l.holder, q.holder, '')::text AS holder,
       COALESCE(l.heartbeat_at, q.heartbeat_at, j.attempted_at, j.created_at)::timestamptz AS last_seen
FROM river_job j
LEFT JOIN job_leases l ON l.job_id = j.id
LEFT JOIN job_leases q ON q.queue = j.queue
WHERE ((j.state = 'running'
        AND COALESCE(l.heartbeat_at, j.attempted_at, j.created_at) < now() - make_interval(secs => @stale_seconds::double precision))
    OR (j.state IN ('available', 'scheduled', 'retryable', 'pending') AND j.queue LIKE 'cli\_%'
        AND COALESCE(q.heartbeat_at, j.created_at) < now() - make_interval(secs => @stale_seconds::double precision)))
  -- After a server restart every holder needs a moment to reconnect and renew: no lease is judged until the
  -- server has been up for @restart_grace_seconds (the stale period itself, see jobs.Deps.RestartGrace).
  AND pg_postmaster_start_time() < now() - make_interval(secs => @restart_grace_seconds::double precision)
ORDER BY j.id;

-- name: JobAbandon :execrows
-- Finalises an abandoned job as discarded (releasing its unique key) with @reason as its last error, so the
-- rows it held can say what happened. Only while it is still in @state: a job that moved on is left alone.
UPDATE river_job
SET state = 'discarded', finalized_at = now(),
    errors = array_append(COALESCE(errors, '{}'), jsonb_build_object(
        'at', now(), 'attempt', attempt, 'error', @reason::text))
WHERE id = @id AND state::text = @state::text;

-- name: LeaseDeleteStale :execrows
-- Leases whose job is final or gone, and stale queue leases with nothing left waiting. A record recovery's
-- lease (recovery_<id>, see RecoveryLeaseAcquire) is kept while its recovery is still running, so the
-- reconciler can still name its dead holder (RecoveriesAbandoned); ending the recovery deletes it.
DELETE FROM job_leases l
WHERE (l.job_id IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM river_job j WHERE j.id = l.job_id AND j.state IN ('running', 'available', 'retryable', 'scheduled', 'pending')))
   OR (l.queue IS NOT NULL AND l.heartbeat_at < now() - make_interval(secs => @stale_seconds::double precision)
       AND NOT EXISTS (SELECT 1 FROM recoveries r WHERE l.queue = 'recovery_' || r.id AND r.status = 'running'));

-- name: JobCancelWaiting :execrows
-- Cancels a job that has not started (or whose holder is gone) so no worker picks it up.
UPDATE river_job
SET state = 'cancelled', finalized_at = now(),
    errors = array_append(COALESCE(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', @reason::text))
WHERE id = @id AND state IN ('available', 'scheduled', 'retryable', 'pending');
