-- name: RiverLeaderAlive :one
-- Whether some client (a worker) currently leads River: periodic jobs, retries and rescues run on the leader.
SELECT EXISTS (SELECT 1 FROM river_leader WHERE expires_at > now())::boolean AS alive;
