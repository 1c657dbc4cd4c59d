-- name: RiverJobDiscardDead :execrows
-- Finalises the River job of a backup whose worker died (no heartbeat). River would only rescue it after
-- RescueStuckJobsAfter (hours, sized for the longest dump), and until then its "running" state would make the
-- per-kind unique insert refuse every new backup of that kind. The row is already failed by then.
UPDATE river_job
SET state = 'discarded', finalized_at = now(),
    errors = array_append(COALESCE(errors, '{}'), jsonb_build_object(
        'at', now(), 'attempt', attempt, 'error', 'worker stopped heartbeating; discarded by pisbackup reconciler'))
WHERE id = @id AND state = 'running';

-- name: RiverLeaderAlive :one
-- Whether some client (a worker) currently leads River: periodic jobs, retries and rescues run on the leader.
SELECT EXISTS (SELECT 1 FROM river_leader WHERE expires_at > now())::boolean AS alive;
