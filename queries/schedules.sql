-- name: ScheduleList :many
SELECT * FROM schedules ORDER BY name;

-- name: ScheduleGet :one
SELECT * FROM schedules WHERE id = @id;
