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

// InsertOpts keeps a single reconcile pending at a time.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, UniqueOpts: river.UniqueOpts{ByPeriod: 30 * time.Second}}
}

// ReconcileWorker runs Reconcile.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	D *Deps
}

// Work reconciles.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	_, err := Reconcile(ctx, w.D, HeartbeatStale)
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
	var fixed []Fixed
	dead, err := d.Q.BackupStale(ctx, d.now().Add(-stale))
	if err != nil {
		return nil, err
	}
	for _, b := range dead {
		since := b.QueuedAt
		if b.HeartbeatAt != nil {
			since = *b.HeartbeatAt
		}
		reason := fmt.Sprintf("worker stopped: no heartbeat since %s", since.UTC().Format(time.RFC3339))
		if f, ok := failBackup(ctx, d, b, reason); ok {
			fixed = append(fixed, f)
		}
	}
	orphans, err := d.Q.BackupOrphaned(ctx)
	if err != nil {
		return fixed, err
	}
	for _, o := range orphans {
		b, err := d.Q.BackupGet(ctx, o.ID)
		if err != nil {
			continue
		}
		reason := "its job is gone from the queue"
		if o.JobState != "" {
			reason = fmt.Sprintf("its job ended as %s without finishing the backup", o.JobState)
		}
		if f, ok := failBackup(ctx, d, b, reason); ok {
			fixed = append(fixed, f)
		}
	}
	if removed, err := d.Store.CleanupTemp(ctx, stale); err != nil {
		d.Log.Warn("temp cleanup failed", "error", err)
	} else if len(removed) > 0 {
		d.Log.Info("removed temporary objects left by interrupted backups", "count", len(removed))
	}
	return fixed, nil
}

func failBackup(ctx context.Context, d *Deps, b queries.Backup, reason string) (Fixed, bool) {
	row, err := d.Q.BackupFail(ctx, queries.BackupFailParams{ID: b.ID, Status: "failed", Error: reason})
	if err != nil {
		return Fixed{}, false // it finished meanwhile
	}
	d.Log.Warn("reconciler failed a stuck backup", "backup_id", b.ID, "reason", reason)
	d.afterBackup(ctx, row)
	return Fixed{Backup: row, Reason: reason}, true
}
