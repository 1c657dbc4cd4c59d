package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/queries"
)

// MediaMigrateArgs is the "media_migrate" job: one run of the Cloudinary migration whose options live in its
// media_migrations row. Concurrency is a tuning knob, not a secret, so it rides along.
type MediaMigrateArgs struct {
	MigrationID int64 `json:"migration_id"`
	Concurrency int   `json:"concurrency,omitempty"`
}

// Kind names the job in River.
func (MediaMigrateArgs) Kind() string { return "media_migrate" }

// InsertOpts: one attempt — a re-run is a new row, and it resumes from the ledger anyway.
func (MediaMigrateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBackups, MaxAttempts: 1}
}

// MediaMigrateWorker runs migrations.
type MediaMigrateWorker struct {
	river.WorkerDefaults[MediaMigrateArgs]
	D *Deps
}

// Timeout fits a large media tree uploaded at Cloudinary's pace.
func (w *MediaMigrateWorker) Timeout(*river.Job[MediaMigrateArgs]) time.Duration {
	return BackupTimeout
}

// Work runs the migration; see RunMediaMigration.
func (w *MediaMigrateWorker) Work(ctx context.Context, job *river.Job[MediaMigrateArgs]) error {
	_, err := RunMediaMigration(ctx, w.D, job.Args.MigrationID, job.Args.Concurrency, job.Queue)
	return err
}

// MediaMigrationRequest asks for one migration run.
type MediaMigrationRequest struct {
	DryRun, BackupFirst, DeleteLocal bool
	Concurrency                      int
	CreatedBy                        *int64
	Queue                            string // the CLI's private queue; empty means QueueBackups
}

// ErrMigrationActive means another migration is queued or running; its row is returned with it.
var ErrMigrationActive = errors.New("a media migration is already queued or running")

// DefaultConcurrency is how many uploads run at once unless the operator says otherwise.
const DefaultConcurrency = 4

// EnqueueMediaMigration records a run and its job in one transaction. Only one run at a time: a second
// request gets the active row and ErrMigrationActive.
func EnqueueMediaMigration(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], req MediaMigrationRequest) (m queries.MediaMigration, err error) {
	if req.Concurrency == 0 {
		req.Concurrency = DefaultConcurrency
	}
	if req.Concurrency < 1 || req.Concurrency > 64 {
		return m, fmt.Errorf("concurrency must be between 1 and 64, not %d", req.Concurrency)
	}
	if req.DryRun && req.DeleteLocal {
		return m, errors.New("--dry-run and --delete-local exclude each other: a dry run changes nothing")
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('pisbackup.media_migration'))"); err != nil {
			return err
		}
		if _, err := q.MediaMigrationFailOrphaned(ctx); err != nil {
			return err
		}
		if cur, err := q.MediaMigrationActive(ctx); err == nil {
			m = cur
			return ErrMigrationActive
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		m, err = q.MediaMigrationInsert(ctx, queries.MediaMigrationInsertParams{DryRun: req.DryRun,
			BackupFirst: req.BackupFirst, DeleteLocal: req.DeleteLocal, CreatedBy: req.CreatedBy})
		if err != nil {
			return err
		}
		var opts *river.InsertOpts
		if req.Queue != "" {
			opts = &river.InsertOpts{Queue: req.Queue}
		}
		res, err := client.InsertTx(ctx, tx, MediaMigrateArgs{MigrationID: m.ID, Concurrency: req.Concurrency}, opts)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		m.JobID = &res.Job.ID
		return q.MediaMigrationSetJob(ctx, queries.MediaMigrationSetJobParams{ID: m.ID, JobID: &res.Job.ID})
	})
	return m, err
}

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) {
		river.AddWorker(w, &MediaMigrateWorker{D: d})
	})
}
