package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/queries"
)

// BackupDatabaseArgs is the "backup_database" job: one pg_dump of the clinic database into storage. It carries
// only the backup row's id; the source URL and keys come from configuration, so no secret reaches River.
type BackupDatabaseArgs struct {
	BackupID int64 `json:"backup_id"`
}

// Kind names the job in River.
func (BackupDatabaseArgs) Kind() string { return "backup_database" }

// InsertOpts makes the job unique per kind while it is waiting or running: a second "Back up now" finds the
// first instead of starting a parallel dump.
func (BackupDatabaseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBackups, MaxAttempts: 1, UniqueOpts: activeUnique}
}

var activeUnique = river.UniqueOpts{ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// BackupDatabaseWorker runs database backups.
type BackupDatabaseWorker struct {
	river.WorkerDefaults[BackupDatabaseArgs]
	D *Deps
}

// Timeout fits multi-hour dumps.
func (w *BackupDatabaseWorker) Timeout(*river.Job[BackupDatabaseArgs]) time.Duration {
	return BackupTimeout
}

// Work dumps the database. A failed backup is final for its row (a new run gets a new row), so errors are
// returned as river.JobCancel: retrying the same row would only blur its history.
func (w *BackupDatabaseWorker) Work(ctx context.Context, job *river.Job[BackupDatabaseArgs]) error {
	d := w.D
	b, err := d.Q.BackupStart(ctx, job.Args.BackupID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // cancelled or already ended while queued
	} else if err != nil {
		return err
	}
	hb := startHeartbeat(ctx, d, b.ID)
	res, err := backup.DumpDatabase(ctx, backup.DumpOptions{AllDigests: d.Cfg.ContentDigests,
		BackupID: b.ID, Trigger: b.Trigger, Source: d.Cfg.Source, Clients: d.Cfg.PGClients,
		Store: d.Store, Keys: d.Keys, Progress: hb.set, Now: d.now, Waiting: func(w string) { setWaiting(ctx, w) },
	})
	hb.stop()
	final, ferr := finishBackup(ctx, d, b, res, err)
	if ferr != nil {
		return ferr
	}
	d.afterBackup(context.WithoutCancel(ctx), final)
	if err != nil {
		return river.JobCancel(err) // scrubErrors scrubs the text River keeps
	}
	return nil
}

// finishBackup records the outcome. It uses a context that survives cancellation so a cancelled or timed-out
// job still leaves its row in a final state.
func finishBackup(ctx context.Context, d *Deps, b queries.Backup, res *backup.Result, runErr error) (queries.Backup, error) {
	if runErr != nil {
		status := "failed"
		if why, ok := cancelReason(ctx); ok {
			status, runErr = "cancelled", errors.New(why)
		} else if errors.Is(runErr, context.DeadlineExceeded) {
			runErr = fmt.Errorf("timed out after %s", BackupTimeout)
		} else if errors.Is(runErr, context.Canceled) {
			runErr = fmt.Errorf("worker stopped during the backup")
		}
		msg := d.Cfg.ScrubErr(runErr) // pgx, pg_dump and storage errors may echo any configured secret
		d.Log.Warn("backup ended without an artifact", "backup_id", b.ID, "status", status, "error", msg)
		return finalWrite(ctx, d, func(c context.Context) (queries.Backup, error) {
			return d.Q.BackupFail(c, queries.BackupFailParams{ID: b.ID, Status: status, Error: msg})
		})
	}
	m := res.Manifest
	// The artifact and manifest are published: retry until the catalog takes the row, or the artifact would
	// be orphaned in storage and the row failed by the reconciler.
	return finalWrite(ctx, d, func(c context.Context) (queries.Backup, error) {
		return d.Q.BackupSucceed(c, queries.BackupSucceedParams{
			ID: b.ID, Status: res.Status, BytesRead: m.PlainBytes, BytesStored: m.StoredBytes, Sha256: m.SHA256,
			StorageKey: res.Key, Encrypted: m.Encrypted, RecipientsFingerprint: m.RecipientsFingerprint,
			PgDumpVersion: m.PgDumpVersion, ServerVersion: m.ServerVersion, Manifest: m.JSON(),
			Warnings: append([]string{}, m.Warnings...),
		})
	})
}

// finalWrite records a job's outcome, retrying while the catalog is unreachable (a restart, an outage) for as
// long as the job's timeout allows, so the row ends with what really happened.
func finalWrite[T any](ctx context.Context, d *Deps, write func(context.Context) (T, error)) (T, error) {
	var out T
	err := dbconn.Retry(ctx, BackupTimeout, func(c context.Context) error {
		var err error
		out, err = write(c)
		if dbconn.Unreachable(err) {
			d.Log.Warn("catalog unreachable while recording a job's outcome; retrying", "error", err)
		}
		return err
	})
	return out, err
}

// heartbeat persists progress at most once a second and proves the worker is alive even while pg_dump is
// silent (waiting on a lock, say), which is what the reconciler watches.
type heartbeat struct {
	done, total atomic.Int64
	cancel      context.CancelFunc
	finished    chan struct{}
}

func startHeartbeat(ctx context.Context, d *Deps, id int64) *heartbeat {
	hctx, cancel := context.WithCancel(ctx)
	h := &heartbeat{cancel: cancel, finished: make(chan struct{})}
	go func() {
		defer close(h.finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				_ = d.Q.BackupProgress(hctx, queries.BackupProgressParams{
					ID: id, ProgressBytes: h.done.Load(), ProgressTotal: h.total.Load()})
			}
		}
	}()
	return h
}

func (h *heartbeat) set(done, total int64) { h.done.Store(done); h.total.Store(total) }

func (h *heartbeat) stop() { h.cancel(); <-h.finished }
