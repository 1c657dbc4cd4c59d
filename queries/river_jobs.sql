-- name: RiverLeaderAlive :one
-- Whether some client (a worker) currently leads River: periodic jobs, retries and rescues run on the leader.
SELECT EXISTS (SELECT 1 FROM river_leader WHERE expires_at > now())::boolean AS alive;

-- name: RiverLastCompleted :one
-- When a job of a kind last completed (no row if never, or longer ago than River keeps completed jobs): the
-- scheduler's liveness is its newest completed schedule_tick.
SELECT finalized_at FROM river_job WHERE kind = @kind AND state = 'completed'
ORDER BY finalized_at DESC NULLS LAST LIMIT 1;
