package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/queries"
)

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &VerifyBackupWorker{D: d}) })
	afterBackupHooks = append(afterBackupHooks, verifyAfterBackup)
}

// VerifyBackupArgs is the "verify_backup" job: one verification (checksum, archive or drill) of one backup.
// The level and backup live in the verifications row; the job carries its id only.
type VerifyBackupArgs struct {
	VerificationID int64 `json:"verification_id"`
}

// Kind names the job in River.
func (VerifyBackupArgs) Kind() string { return "verify_backup" }

// InsertOpts puts verifications on their own queue so a drill never delays a backup. One attempt: a failed
// verification is a result to record, not a glitch to retry.
func (VerifyBackupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueVerify, MaxAttempts: 1}
}

// VerifyBackupWorker runs verifications.
type VerifyBackupWorker struct {
	river.WorkerDefaults[VerifyBackupArgs]
	D *Deps
}

// Timeout lets a drill of a large database finish; the scratch database is dropped even when it fires.
func (w *VerifyBackupWorker) Timeout(*river.Job[VerifyBackupArgs]) time.Duration {
	return BackupTimeout
}

// Work runs the verification and records its outcome. A backup that fails verification is a successful job:
// the row holds the verdict.
func (w *VerifyBackupWorker) Work(ctx context.Context, job *river.Job[VerifyBackupArgs]) error {
	d := w.D
	v, err := d.Q.VerificationStart(ctx, job.Args.VerificationID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	b, err := d.Q.BackupGet(ctx, v.BackupID)
	if err != nil {
		return err
	}
	out := runVerification(ctx, d, b, v)
	v, err = finishVerification(ctx, d, v, out)
	if err == nil {
		alertOnVerification(context.WithoutCancel(ctx), d, v)
	}
	return err
}

// verifyOutcome is what one verification found.
type verifyOutcome struct {
	Details any
	RTOms   *int64
	Err     error
	// Note is shown on a verification that passed (a drill's objects not created); an Err's text replaces it.
	Note string
}

func finishVerification(ctx context.Context, d *Deps, v queries.Verification, out verifyOutcome) (queries.Verification, error) {
	status, msg := "succeeded", out.Note
	if out.Err != nil {
		status, msg = "failed", d.Cfg.ScrubErr(out.Err)
		if out.Note != "" {
			msg += "\n" + d.Cfg.Scrub(out.Note)
		}
		why, cancelled := cancelReason(ctx)
		switch {
		case cancelled:
			status, msg = "cancelled", why
		case errors.Is(out.Err, context.DeadlineExceeded):
			msg = fmt.Sprintf("timed out after %s", BackupTimeout)
		case errors.Is(out.Err, context.Canceled):
			msg = "worker stopped during the verification"
		}
		d.Log.Warn("verification did not pass", "verification_id", v.ID, "backup_id", v.BackupID, "level", v.Level, "status", status, "error", msg)
	}
	var raw json.RawMessage
	if out.Details != nil {
		raw, _ = json.Marshal(out.Details)
	}
	return finalWrite(ctx, d, func(c context.Context) (queries.Verification, error) {
		return d.Q.VerificationFinish(c, queries.VerificationFinishParams{ID: v.ID, Status: status, RtoMs: out.RTOms, Details: raw, Error: msg})
	})
}

// VerifyRequest asks for one verification.
type VerifyRequest struct {
	BackupID  int64
	Level     string // checksum, archive or drill
	CreatedBy *int64
	Queue     string // overrides QueueVerify (the CLI's private queue)
}

// Levels of verification, cheapest first.
var Levels = []string{"checksum", "archive", "drill"}

// EnqueueVerification records a verification row and inserts its job in one transaction.
func EnqueueVerification(ctx context.Context, pool DB, client *river.Client[pgx.Tx], req VerifyRequest) (v queries.Verification, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		v, err = EnqueueVerificationTx(ctx, tx, client, req)
		return err
	})
	return v, err
}

// EnqueueVerificationTx is EnqueueVerification inside the caller's transaction.
func EnqueueVerificationTx(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], req VerifyRequest) (queries.Verification, error) {
	if !validLevel(req.Level) {
		return queries.Verification{}, fmt.Errorf("unknown verification level %q (want checksum, archive or drill)", req.Level)
	}
	q := queries.New(tx)
	if _, err := q.BackupGet(ctx, req.BackupID); err != nil {
		return queries.Verification{}, err
	}
	if req.Level == "drill" {
		// A drill is a full restore on the clinic's server: never two of one backup at a time.
		if _, err := q.BackupLockForDrill(ctx, req.BackupID); err != nil {
			return queries.Verification{}, err
		}
		live, err := q.VerificationLiveDrill(ctx, req.BackupID)
		if err == nil {
			return live, &DrillInFlightError{BackupID: req.BackupID, VerificationID: live.ID, Status: live.Status}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return queries.Verification{}, err
		}
	}
	v, err := q.VerificationInsert(ctx, queries.VerificationInsertParams{BackupID: req.BackupID, Level: req.Level, CreatedBy: req.CreatedBy})
	if err != nil {
		return v, err
	}
	var opts *river.InsertOpts
	if req.Queue != "" {
		opts = &river.InsertOpts{Queue: req.Queue}
	}
	res, err := client.InsertTx(ctx, tx, VerifyBackupArgs{VerificationID: v.ID}, opts)
	if err != nil {
		return v, fmt.Errorf("enqueue: %w", err)
	}
	v.JobID = &res.Job.ID
	return v, q.VerificationSetJob(ctx, queries.VerificationSetJobParams{ID: v.ID, JobID: &res.Job.ID})
}

// DrillInFlightError refuses a second drill of a backup while one is queued or running.
type DrillInFlightError struct {
	BackupID, VerificationID int64
	Status                   string
}

func (e *DrillInFlightError) Error() string {
	return fmt.Sprintf("a drill of backup #%d is already %s (verification #%d); wait for it to finish", e.BackupID, e.Status, e.VerificationID)
}

func validLevel(l string) bool {
	for _, x := range Levels {
		if l == x {
			return true
		}
	}
	return false
}

// verifyAfterBackup queues a checksum verification of every backup that produced an artifact. It runs inside
// the backup's worker, whose context carries the River client.
func verifyAfterBackup(ctx context.Context, d *Deps, b queries.Backup) {
	if (b.Status != "succeeded" && b.Status != "warning") || b.StorageKey == "" {
		return
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		d.Log.Warn("cannot queue the automatic checksum verification", "backup_id", b.ID, "error", err)
		return
	}
	if _, err := EnqueueVerification(ctx, d.Pool, client, VerifyRequest{BackupID: b.ID, Level: "checksum"}); err != nil {
		d.Log.Error("automatic checksum verification not queued", "backup_id", b.ID, "error", err)
	}
}
