package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/queries"
)

// ReconcileArgs is the "reconcile" job: it makes sure no backup row says "running" when nothing runs it, and
// clears temporary storage objects left by killed workers. Periodic, every minute.
type ReconcileArgs struct{}

// Kind names the job in River.
func (ReconcileArgs) Kind() string { return "reconcile" }

// InsertOpts: no uniqueness on purpose. Reconciling is idempotent, and a by-period unique key would swallow
// the run-on-start of a worker that restarts soon after a crash, which is exactly when it is needed.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault}
}

// ReconcileWorker runs Reconcile.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	D *Deps
}

// Work reconciles.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	stale := HeartbeatStale
	if w.D.Cfg != nil && w.D.Cfg.HeartbeatTimeout > 0 {
		stale = w.D.Cfg.HeartbeatTimeout
	}
	_, err := Reconcile(ctx, w.D, stale)
	return err
}

// Fixed is one row the reconciler ended.
type Fixed struct {
	Backup queries.Backup
	Reason string
}

// Reconcile fails backups whose worker stopped heartbeating for longer than stale, or whose River job no
// longer exists or already finished, and removes temp objects older than stale. It returns what it changed.
func Reconcile(ctx context.Context, d *Deps, stale time.Duration) ([]Fixed, error) {
	stuck, err := FindStuck(ctx, d, stale)
	var fixed []Fixed
	for _, s := range stuck {
		if f, ok := failBackup(ctx, d, s.Backup, s.Reason); ok {
			fixed = append(fixed, f)
		}
	}
	if err != nil {
		return fixed, err
	}
	if err := reconcileChecks(ctx, d); err != nil {
		d.Log.Warn("reconciling verifications and restores failed", "error", err)
	}
	if removed, err := d.Store.CleanupTemp(ctx, stale); err != nil {
		d.Log.Warn("temp cleanup failed", "error", err)
	} else if len(removed) > 0 {
		d.Log.Info("removed temporary objects left by interrupted backups", "count", len(removed))
	}
	return fixed, nil
}

// FindStuck lists what Reconcile would fail, and why, without changing anything (cleanup-stuck-backups
// --dry-run). A row both silent and orphaned is listed once.
func FindStuck(ctx context.Context, d *Deps, stale time.Duration) ([]Fixed, error) {
	var stuck []Fixed
	seen := map[int64]bool{}
	dead, err := d.Q.BackupStale(ctx, d.now().Add(-stale))
	if err != nil {
		return nil, err
	}
	for _, b := range dead {
		since := b.QueuedAt
		if b.HeartbeatAt != nil {
			since = *b.HeartbeatAt
		}
		seen[b.ID] = true
		stuck = append(stuck, Fixed{Backup: b, Reason: fmt.Sprintf("worker stopped: no heartbeat since %s", since.UTC().Format(time.RFC3339))})
	}
	orphans, err := d.Q.BackupOrphaned(ctx)
	if err != nil {
		return stuck, err
	}
	for _, o := range orphans {
		b, err := d.Q.BackupGet(ctx, o.ID)
		if err != nil || seen[o.ID] {
			continue
		}
		reason := "its job is gone from the queue"
		if o.JobState != "" {
			reason = fmt.Sprintf("its job ended as %s without finishing the backup", o.JobState)
		}
		stuck = append(stuck, Fixed{Backup: b, Reason: reason})
	}
	return stuck, nil
}

func failBackup(ctx context.Context, d *Deps, b queries.Backup, reason string) (Fixed, bool) {
	row, err := d.Q.BackupFail(ctx, queries.BackupFailParams{ID: b.ID, Status: "failed", Error: reason})
	if err != nil {
		return Fixed{}, false // it finished meanwhile
	}
	d.Log.Warn("reconciler failed a stuck backup", "backup_id", b.ID, "reason", reason)
	if b.JobID != nil {
		if _, err := d.Q.RiverJobDiscardDead(ctx, *b.JobID); err != nil {
			d.Log.Warn("could not finalise the dead backup's job", "job_id", *b.JobID, "error", err)
		}
	}
	d.afterBackup(ctx, row)
	return Fixed{Backup: row, Reason: reason}, true
}
