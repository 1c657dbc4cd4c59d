-- name: ScheduleList :many
SELECT * FROM schedules ORDER BY name;

-- name: ScheduleGet :one
SELECT * FROM schedules WHERE id = @id;

-- name: ScheduleGetByName :one
SELECT * FROM schedules WHERE name = @name;

-- name: ScheduleInsert :one
INSERT INTO schedules (name, kind, cadence, time_of_day, weekday, day_of_month, cron_expr, timezone, active,
                       keep_last, keep_daily, keep_weekly, keep_monthly, max_age_days, verify_level, next_run_at)
VALUES (@name, @kind, @cadence, @time_of_day, @weekday, @day_of_month, @cron_expr, @timezone, @active,
        @keep_last, @keep_daily, @keep_weekly, @keep_monthly, @max_age_days, @verify_level, sqlc.narg(next_run_at))
RETURNING *;

-- name: ScheduleUpdate :one
-- Saving recomputes next_run_at, so an edit takes effect at the scheduler's next tick without a restart.
UPDATE schedules
SET name = @name, kind = @kind, cadence = @cadence, time_of_day = @time_of_day, weekday = @weekday,
    day_of_month = @day_of_month, cron_expr = @cron_expr, timezone = @timezone, active = @active,
    keep_last = @keep_last, keep_daily = @keep_daily, keep_weekly = @keep_weekly, keep_monthly = @keep_monthly,
    max_age_days = @max_age_days, verify_level = @verify_level, next_run_at = sqlc.narg(next_run_at),
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ScheduleSetActive :one
UPDATE schedules SET active = @active, next_run_at = sqlc.narg(next_run_at), updated_at = now()
WHERE id = @id RETURNING *;

-- name: ScheduleDelete :one
DELETE FROM schedules WHERE id = @id RETURNING id;

-- name: ScheduleListActive :many
-- What the scheduler looks at each tick; manual schedules never fire.
SELECT * FROM schedules WHERE active AND cadence <> 'manual' ORDER BY id;

-- name: ScheduleClaimRun :one
-- Moves a due schedule to its next slot. The WHERE on the old next_run_at makes the claim atomic: with several
-- workers ticking, exactly one wins each slot; the others get no row.
UPDATE schedules SET last_run_at = @ran_at, next_run_at = sqlc.narg(next_run_at)
WHERE id = @id AND active AND next_run_at IS NOT DISTINCT FROM sqlc.narg(expected_next)::timestamptz
RETURNING *;

-- name: ScheduleSetNext :exec
UPDATE schedules SET next_run_at = sqlc.narg(next_run_at) WHERE id = @id AND next_run_at IS NULL;

-- name: ScheduleCount :one
SELECT count(*) FROM schedules;
