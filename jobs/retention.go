package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/queries"
)

// RetentionArgs is the "retention" job: it prunes one schedule's backups by its policy (ScheduleID 0 = every
// schedule). It runs after each scheduled backup and daily.
type RetentionArgs struct {
	ScheduleID int64 `json:"schedule_id"`
}

// Kind names the job in River.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts: one pending pass per schedule is enough; a second request while it waits adds nothing.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeUnique.ByState}}
}

// RetentionWorker runs ApplyRetention.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	D *Deps
}

// Timeout bounds one pass.
func (w *RetentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return RetentionTimeout }

// Work prunes.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	ids := []int64{job.Args.ScheduleID}
	if job.Args.ScheduleID == 0 {
		rows, err := w.D.Q.ScheduleList(ctx)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, s := range rows {
			ids = append(ids, s.ID)
		}
	}
	var errs []error
	for _, id := range ids {
		if _, err := ApplyRetention(ctx, w.D, id); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			errs = append(errs, fmt.Errorf("schedule %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &RetentionWorker{D: d}) })
	afterBackupHooks = append(afterBackupHooks, retentionAfterBackup)
	extraPeriodic = append(extraPeriodic, func(*Deps) []*river.PeriodicJob {
		return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
			// At start too: a worker that restarts more often than daily would otherwise never prune.
			&river.PeriodicJobOpts{ID: "retention_daily", RunOnStart: true})}
	})
}

// retentionAfterBackup queues a retention pass for the schedule whose backup just succeeded. The hook runs
// inside the backup job, whose context carries the River client.
func retentionAfterBackup(ctx context.Context, d *Deps, b queries.Backup) {
	if b.ScheduleID == nil || b.ParentID != nil || (b.Status != "succeeded" && b.Status != "warning") {
		return
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err == nil {
		_, err = client.Insert(ctx, RetentionArgs{ScheduleID: *b.ScheduleID}, nil)
	}
	if err != nil {
		d.Log.Warn("retention not queued after backup; the daily pass will catch up", "backup_id", b.ID, "error", err)
	}
}
