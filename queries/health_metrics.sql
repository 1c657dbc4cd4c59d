-- name: HealthMetricInsert :one
INSERT INTO health_metrics (metric, value, unit, details) VALUES (@metric, @value, @unit, @details) RETURNING *;

-- name: HealthMetricSeries :many
SELECT * FROM health_metrics WHERE metric = @metric AND recorded_at >= @since ORDER BY recorded_at;
