package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/queries"
)

// ScheduleTickArgs is the "schedule_tick" job: the scheduler. It turns active schedule rows into backup jobs.
//
// Why a ticker over the rows rather than one River PeriodicJob per schedule: River's periodic set is fixed per
// client (adding/removing at runtime needs the client's PeriodicJobs bundle on every worker process, and a
// missed slot is simply skipped). Reading the rows every 30 s makes create/edit/toggle/delete take effect
// within one tick on every worker without a restart, keeps next_run_at in the database for the UI, gives
// exactly one catch-up run after downtime (next_run_at is in the past once, then moves past now), and the
// atomic claim (ScheduleClaimRun) lets several workers tick without double runs.
type ScheduleTickArgs struct{}

// Kind names the job in River.
func (ScheduleTickArgs) Kind() string { return "schedule_tick" }

// InsertOpts keeps at most one tick waiting or running.
func (ScheduleTickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 1, UniqueOpts: activeUnique}
}

// ScheduleTickWorker runs Tick.
type ScheduleTickWorker struct {
	river.WorkerDefaults[ScheduleTickArgs]
	D *Deps
}

// Timeout bounds one tick; it normally takes milliseconds.
func (w *ScheduleTickWorker) Timeout(*river.Job[ScheduleTickArgs]) time.Duration { return TickTimeout }

// Work ticks once.
func (w *ScheduleTickWorker) Work(ctx context.Context, _ *river.Job[ScheduleTickArgs]) error {
	_, err := Tick(ctx, w.D, river.ClientFromContext[pgx.Tx](ctx))
	return err
}

// DefaultTickEvery is how often the scheduler looks at the schedules.
const DefaultTickEvery = 30 * time.Second

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &ScheduleTickWorker{D: d}) })
	extraPeriodic = append(extraPeriodic, func(d *Deps) []*river.PeriodicJob {
		every := d.TickEvery
		if every <= 0 {
			every = DefaultTickEvery
		}
		return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) { return ScheduleTickArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "schedule_tick"})}
	})
}

// Fired is one schedule run the scheduler started.
type Fired struct {
	Schedule queries.Schedule
	Backup   queries.Backup // for a drill schedule: the backup being drilled
	Existing bool           // a backup of that kind (or a drill of that backup) was already in flight; the run joined it
	// Drill is the verification a drill schedule queued (nil for backup schedules).
	Drill *queries.Verification
}

// ErrNothingToDrill means a drill schedule ran before any good database backup existed.
var ErrNothingToDrill = errors.New("no good database backup exists yet to drill")

// Tick fires every active schedule whose next run is due at d.Now() and moves it to its next slot after now.
// Because the next slot is computed from now, not from the missed one, a worker that was down over several
// slots starts exactly one catch-up run. A schedule without next_run_at (written by hand, say) gets one
// computed and waits for it.
func Tick(ctx context.Context, d *Deps, client *river.Client[pgx.Tx]) ([]Fired, error) {
	now := d.now()
	rows, err := d.Q.ScheduleListActive(ctx)
	if err != nil {
		return nil, err
	}
	var fired []Fired
	for _, s := range rows {
		c, err := schedule.Parse(schedule.FromRow(s).Spec)
		if err != nil {
			d.Log.Error("schedule cannot run: its cadence is invalid", "schedule_id", s.ID, "error", err)
			continue
		}
		next := schedule.NextRun(c, true, now)
		if s.NextRunAt == nil {
			if err := d.Q.ScheduleSetNext(ctx, queries.ScheduleSetNextParams{ID: s.ID, NextRunAt: next}); err != nil {
				return fired, err
			}
			continue
		}
		if s.NextRunAt.After(now) {
			continue
		}
		// The claim and the run's enqueue are one transaction: if this process dies (or the enqueue fails)
		// before it commits, the slot is still due and the next tick takes it, so no slot is ever lost.
		var f Fired
		var claimed bool
		err = pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			row, err := queries.New(tx).ScheduleClaimRun(ctx, queries.ScheduleClaimRunParams{ID: s.ID, RanAt: &now, NextRunAt: next, ExpectedNext: s.NextRunAt})
			if err != nil {
				return err
			}
			claimed = true
			f, err = runSchedule(ctx, d, tx, client, row, "schedule", nil)
			if errors.Is(err, ErrNothingToDrill) {
				return nil // nothing to drill yet: the slot is used, the next one tries again
			}
			return err
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows) && !claimed:
			continue // another worker claimed this slot, or the schedule was edited meanwhile
		case errors.Is(err, ErrJobStillActive):
			// The previous run's job is still winding down (its row already ended): the claim was rolled
			// back, so the next tick retries this slot.
			continue
		case err != nil:
			d.Log.Error("scheduled run did not start; the next tick tries again", "schedule_id", s.ID, "schedule", s.Name, "error", err)
			continue
		case f.Drill == nil && f.Backup.ID == 0:
			d.Log.Warn("drill schedule skipped: "+ErrNothingToDrill.Error(), "schedule_id", s.ID, "schedule", s.Name)
			continue
		}
		d.Log.Info("scheduled run started", "schedule_id", s.ID, "schedule", s.Name, "backup_id", f.Backup.ID, "joined_running", f.Existing)
		fired = append(fired, f)
	}
	return fired, nil
}

// RunSchedule starts one run of s now: the scheduler's runs (trigger "schedule") and "Run now" (trigger
// "manual" from the page, "api" from the API). The trigger matters to retention: manual runs of a schedule are
// counted apart from its scheduled ones, so pressing "Run now" never pushes a scheduled backup out of its
// daily/weekly/monthly bucket. A backup schedule returns the running backup when one of that kind is in flight
// already; a drill schedule queues a drill of the newest good database backup.
func RunSchedule(ctx context.Context, d *Deps, client *river.Client[pgx.Tx], s queries.Schedule, trigger string, createdBy *int64) (Fired, error) {
	return runSchedule(ctx, d, d.Pool, client, s, trigger, createdBy)
}

// RunScheduleIn is RunSchedule inside db: the scheduler passes its claim's transaction, the web handlers the
// transaction that holds the operator drill cap's lock (so the count and the queued drill cannot interleave).
func RunScheduleIn(ctx context.Context, d *Deps, db DB, client *river.Client[pgx.Tx], s queries.Schedule, trigger string, createdBy *int64) (Fired, error) {
	return runSchedule(ctx, d, db, client, s, trigger, createdBy)
}

// runSchedule is RunSchedule inside db (the scheduler passes its claim's transaction).
func runSchedule(ctx context.Context, d *Deps, db DB, client *river.Client[pgx.Tx], s queries.Schedule, trigger string, createdBy *int64) (Fired, error) {
	if s.Kind != "drill" {
		b, existing, err := EnqueueBackup(ctx, db, client, d.Cfg, BackupRequest{Kind: s.Kind, Trigger: trigger, ScheduleID: &s.ID, CreatedBy: createdBy})
		return Fired{Schedule: s, Backup: b, Existing: existing}, err
	}
	b, err := d.Q.BackupLatestGood(ctx, "database")
	if errors.Is(err, pgx.ErrNoRows) {
		return Fired{Schedule: s}, ErrNothingToDrill
	} else if err != nil {
		return Fired{Schedule: s}, err
	}
	v, err := EnqueueVerification(ctx, db, client, VerifyRequest{BackupID: b.ID, Level: "drill", CreatedBy: createdBy})
	var inFlight *DrillInFlightError
	if errors.As(err, &inFlight) { // that backup's drill is already queued or running: it is this run
		return Fired{Schedule: s, Backup: b, Drill: &v, Existing: true}, nil
	}
	return Fired{Schedule: s, Backup: b, Drill: &v}, err
}
