package handlers

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// ScheduleJSON is a schedule as the API shows it: the row plus its next five runs.
type ScheduleJSON struct {
	queries.Schedule
	NextRuns []time.Time `json:"next_runs"`
}

func (h *Handlers) scheduleJSON(s queries.Schedule) ScheduleJSON {
	out := ScheduleJSON{Schedule: s, NextRuns: []time.Time{}}
	if c, err := schedule.Parse(schedule.FromRow(s).Spec); err == nil && s.Active {
		out.NextRuns = append(out.NextRuns, c.NextN(h.Now(), 5)...)
	}
	return out
}

// MaxSchedules bounds how many schedules exist: each one is work the scheduler does for ever, and a clinic
// needs a handful (the setup-schedules defaults are three).
const MaxSchedules = 50

// saveSchedule validates in and inserts it (id 0) or replaces schedule id, recomputing next_run_at so the
// scheduler picks the change up at its next tick. Bad fields come back as schedule.Errors; a name already in
// use is one of them.
func (h *Handlers) saveSchedule(ctx context.Context, id int64, in schedule.Input) (queries.Schedule, error) {
	c, err := in.Validate()
	if err != nil {
		return queries.Schedule{}, err
	}
	next := schedule.NextRun(c, in.Active, h.Now())
	var s queries.Schedule
	if id == 0 {
		// Count and insert under one lock: concurrent creations past the cap would each see room.
		err = h.serialized(ctx, "schedule-cap", func(_ pgx.Tx, q *queries.Queries) error {
			n, err := q.ScheduleCount(ctx)
			if err != nil {
				return err
			}
			if n >= MaxSchedules {
				return Errorf(CodeConflict, "there are already %d schedules, the most pisbackup keeps; delete or edit one instead", n)
			}
			s, err = q.ScheduleInsert(ctx, in.InsertParams(next))
			return err
		})
	} else {
		s, err = h.Q.ScheduleUpdate(ctx, in.UpdateParams(id, next))
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return s, schedule.Errors{{Field: "name", Message: "a schedule named " + strconv.Quote(in.Name) + " already exists"}}
	}
	return s, NotFound(err, "schedule")
}

// toggleSchedule pauses or resumes; resuming computes the next slot from now, so a long pause does not fire a
// catch-up run.
func (h *Handlers) toggleSchedule(ctx context.Context, s queries.Schedule) (queries.Schedule, error) {
	active := !s.Active
	c, err := schedule.Parse(schedule.FromRow(s).Spec)
	if err != nil {
		return s, err
	}
	return h.Q.ScheduleSetActive(ctx, queries.ScheduleSetActiveParams{ID: s.ID, Active: active, NextRunAt: schedule.NextRun(c, active, h.Now())})
}

// scheduleFromPath loads the {id} schedule or 404.
func (h *Handlers) scheduleFromPath(ctx context.Context, raw string) (queries.Schedule, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return queries.Schedule{}, Errorf(CodeNotFound, "no such schedule %q", raw)
	}
	s, err := h.Q.ScheduleGet(ctx, id)
	return s, NotFound(err, "schedule")
}

// jobDeps is what jobs' helpers (RunSchedule, PlanRetention) need from a web process.
func (h *Handlers) jobDeps() *jobs.Deps {
	return &jobs.Deps{Pool: h.Pool, Q: h.Q, Cfg: h.Cfg, Store: h.Store, Keys: h.Keys, Log: h.Log, Now: h.Now}
}

// fieldErr turns the first of a schedule's field errors into the API's 422.
func fieldErr(err error) error {
	var errs schedule.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		return FieldError(errs[0].Field, "%s", errs[0].Message)
	}
	return err
}

func scheduleTarget(id int64) string { return "schedule:" + strconv.FormatInt(id, 10) }
