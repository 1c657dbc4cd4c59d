package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/queries"
)

// ReconcileArgs is the "reconcile" job: it ends work whose process died (see lease.go) — River jobs and the
// backup, verification, restore and media-migration rows they held — and clears temporary storage objects
// whose owner is no longer working. Periodic (reconcileEvery) and at start.
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

// Timeout bounds one pass.
func (w *ReconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return ReconcileTimeout }

// Work reconciles.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	_, err := Reconcile(ctx, w.D, w.D.staleAfter())
	return err
}

// Fixed is one piece of work the reconciler ended (or, in a dry run, would end). What is "backup",
// "verification", "restore", "media migration", "recovery" or, for work without a row of its own, the job's kind.
type Fixed struct {
	What   string
	ID     int64
	Backup queries.Backup // set when What is "backup"
	Reason string
}

// Reconcile ends dead work: River jobs whose lease went unrenewed for stale (judged on the database's clock),
// jobs left waiting on a dead CLI process's private queue, every in-flight row whose job is gone or final, and
// record recoveries whose process's lease went stale (recover_lease.go).
// It drops a dead drill's or recovery's scratch database and a partial restore target pisbackup created, queues a dead
// retention pass again, and removes temporary storage objects whose owner is not working. It returns what it
// ended.
func Reconcile(ctx context.Context, d *Deps, stale time.Duration) ([]Fixed, error) {
	dead, err := d.Q.JobsAbandoned(ctx, queries.JobsAbandonedParams{StaleSeconds: stale.Seconds(), RestartGraceSeconds: d.restartGrace(stale).Seconds()})
	if err != nil {
		return nil, err
	}
	var fixed []Fixed
	for _, j := range dead {
		reason := abandonReason(j)
		n, err := d.Q.JobAbandon(ctx, queries.JobAbandonParams{ID: j.ID, State: j.State, Reason: reason})
		if err != nil || n == 0 {
			continue // it moved on meanwhile
		}
		d.Log.Warn("reconciler ended a dead job", "job_id", j.ID, "kind", j.Kind, "reason", reason)
		if f, ok := afterAbandon(ctx, d, j, reason); ok {
			fixed = append(fixed, f)
		}
	}
	rows, err := endOrphans(ctx, d)
	fixed = append(fixed, rows...)
	if err != nil {
		return fixed, err
	}
	recs, err := reconcileRecoveries(ctx, d, stale, false)
	fixed = append(fixed, recs...)
	if err != nil {
		return fixed, err
	}
	if _, err := d.Q.LeaseDeleteStale(ctx, stale.Seconds()); err != nil {
		d.Log.Warn("could not delete stale leases", "error", err)
	}
	cleanupTemp(ctx, d, stale)
	return fixed, nil
}

// FindStuck lists what Reconcile would end, and why, without changing anything (cleanup-stuck-backups
// --dry-run).
func FindStuck(ctx context.Context, d *Deps, stale time.Duration) ([]Fixed, error) {
	dead, err := d.Q.JobsAbandoned(ctx, queries.JobsAbandonedParams{StaleSeconds: stale.Seconds(), RestartGraceSeconds: d.restartGrace(stale).Seconds()})
	if err != nil {
		return nil, err
	}
	reasons := map[int64]string{}
	var stuck []Fixed
	for _, j := range dead {
		reasons[j.ID] = abandonReason(j)
		if rowless(j.Kind) {
			stuck = append(stuck, Fixed{What: j.Kind, ID: j.ID, Reason: reasons[j.ID]})
		}
	}
	inFlight, err := d.Q.BackupListRunning(ctx)
	if err != nil {
		return stuck, err
	}
	seen := map[int64]bool{}
	for _, b := range inFlight {
		if b.JobID != nil && reasons[*b.JobID] != "" {
			seen[b.ID] = true
			stuck = append(stuck, Fixed{What: "backup", ID: b.ID, Backup: b, Reason: reasons[*b.JobID]})
		}
	}
	orphans, err := d.Q.BackupOrphaned(ctx)
	if err != nil {
		return stuck, err
	}
	for _, o := range orphans {
		if seen[o.ID] {
			continue
		}
		if b, err := d.Q.BackupGet(ctx, o.ID); err == nil {
			stuck = append(stuck, Fixed{What: "backup", ID: b.ID, Backup: b, Reason: orphanReason(o.JobState, o.LastError)})
		}
	}
	recs, err := reconcileRecoveries(ctx, d, stale, true)
	return append(stuck, recs...), err
}

// rowless kinds have no row of their own that the reconciler ends: ending their job is the whole fix.
func rowless(kind string) bool {
	switch kind {
	case "backup_database", "backup_media", "backup_full", "verify_backup", "restore", "media_migrate":
		return false
	}
	return true
}

func abandonReason(j queries.JobsAbandonedRow) string {
	who := j.Holder
	if who == "" {
		who = "its process"
	}
	at := j.LastSeen.UTC().Format(time.RFC3339)
	if j.State != "running" {
		return fmt.Sprintf("the command that queued it (%s) stopped before running it: its private queue has no heartbeat since %s", who, at)
	}
	return fmt.Sprintf("worker stopped: no heartbeat from %s since %s", who, at)
}

// afterAbandon does what a dead job of kind j.Kind leaves to do beyond ending its rows (endOrphans does that):
// a dead retention pass or scheduler tick is queued again at once, so that schedule's pruning, or every
// schedule, does not wait for the next periodic run.
func afterAbandon(ctx context.Context, d *Deps, j queries.JobsAbandonedRow, reason string) (Fixed, bool) {
	f := Fixed{What: j.Kind, ID: j.ID, Reason: reason}
	var again river.JobArgs
	switch j.Kind {
	case RetentionArgs{}.Kind():
		var args RetentionArgs
		_ = json.Unmarshal(j.Args, &args)
		again = args
	case ScheduleTickArgs{}.Kind():
		again = ScheduleTickArgs{}
	}
	if again != nil {
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err == nil {
			_, err = client.Insert(ctx, again, nil)
		}
		if err != nil {
			d.Log.Warn("dead job not queued again; its periodic run will catch up", "kind", j.Kind, "error", err)
		} else {
			f.Reason += "; queued again"
		}
	}
	return f, rowless(j.Kind)
}

// endOrphans fails every in-flight row whose job is gone or final, with the job's last error as the reason
// when it has one (the reconciler's own, for dead work), and cleans up after it.
func endOrphans(ctx context.Context, d *Deps) ([]Fixed, error) {
	var fixed []Fixed
	orphans, err := d.Q.BackupOrphaned(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range orphans {
		b, err := d.Q.BackupGet(ctx, o.ID)
		if err != nil {
			continue
		}
		if f, ok := failBackup(ctx, d, b, orphanReason(o.JobState, o.LastError)); ok {
			fixed = append(fixed, f)
		}
	}
	more, err := reconcileChecks(ctx, d)
	return append(fixed, more...), err
}

func orphanReason(jobState, lastError string) string {
	switch {
	case lastError != "" && jobState == "discarded":
		return lastError
	case jobState == "":
		return "its job is gone from the queue (its worker stopped, or the job was deleted)"
	}
	return fmt.Sprintf("its job ended as %s without finishing", jobState)
}

func failBackup(ctx context.Context, d *Deps, b queries.Backup, reason string) (Fixed, bool) {
	row, err := d.Q.BackupFail(ctx, queries.BackupFailParams{ID: b.ID, Status: "failed", Error: reason})
	if err != nil {
		return Fixed{}, false // it finished meanwhile
	}
	d.Log.Warn("reconciler failed a stuck backup", "backup_id", b.ID, "reason", reason)
	d.afterBackup(ctx, row)
	return Fixed{What: "backup", ID: row.ID, Backup: row, Reason: reason}, true
}
