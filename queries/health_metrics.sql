-- name: HealthMetricInsert :one
INSERT INTO health_metrics (metric, value, unit, details) VALUES (@metric, @value, @unit, @details) RETURNING *;

-- name: HealthMetricSeries :many
SELECT * FROM health_metrics WHERE metric = @metric AND recorded_at >= @since ORDER BY recorded_at;

-- name: HealthMetricLatest :many
-- The newest value of every metric: what /metrics exports.
SELECT DISTINCT ON (metric) * FROM health_metrics ORDER BY metric, recorded_at DESC, id DESC;

-- name: HealthMetricLatestAt :one
SELECT recorded_at FROM health_metrics WHERE metric = @metric ORDER BY recorded_at DESC LIMIT 1;

-- name: HealthMetricPrune :exec
-- Keeps the table bounded: the charts go back 30 days.
DELETE FROM health_metrics WHERE recorded_at < @before;

-- name: RiverQueueDepth :many
-- Jobs waiting or running per queue, from River's own table.
SELECT queue, count(*) FILTER (WHERE state IN ('available', 'scheduled', 'retryable', 'pending'))::bigint AS waiting,
       count(*) FILTER (WHERE state = 'running')::bigint AS running
FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')
GROUP BY queue ORDER BY queue;

-- name: HealthMetricLatestOf :one
-- The newest value of one metric (the dashboard's storage figures, measured by the metrics job).
SELECT * FROM health_metrics WHERE metric = @metric ORDER BY recorded_at DESC, id DESC LIMIT 1;
