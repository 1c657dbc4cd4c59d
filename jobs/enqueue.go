package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/queries"
)

// BackupKinds and BackupStatuses are the values the backups table allows (its CHECK constraints); the API and
// the CLI validate filters against them.
var (
	BackupKinds    = []string{"database", "media", "full"}
	BackupStatuses = []string{"queued", "running", "succeeded", "warning", "failed", "cancelled"}
)

// BackupRequest asks for one backup.
type BackupRequest struct {
	Kind       string // database, media or full
	Trigger    string // manual, schedule, api, cli
	CreatedBy  *int64
	ScheduleID *int64
	// Queue overrides the job's queue; the CLI uses a private queue so its in-process worker runs exactly
	// the job it asked for.
	Queue string
}

// DB is where an enqueue runs its transaction: a pool, or a caller's transaction (the enqueue then runs in a
// savepoint and commits with the caller's work, as the scheduler's claim does).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

var _ DB = (*pgxpool.Pool)(nil)

// ErrJobStillActive means River still holds an active job of this kind although no backup row is in flight
// (the reconciler closed the row first). The old job must end before a new one can start.
var ErrJobStillActive = errors.New("a backup job of this kind is still active in the queue; wait for it to end or cancel it in the job UI")

// EnqueueBackup records a backup row and inserts its job in one transaction (both or neither). When a backup
// of the same kind is already queued or running, it returns that one and existing=true.
func EnqueueBackup(ctx context.Context, pool DB, client *river.Client[pgx.Tx], cfg *config.Config, req BackupRequest) (queries.Backup, bool, error) {
	// The worker finishes the row before River's completer marks the job completed (it batches), so for a
	// moment right after a backup ends its job still counts as active. Retry briefly instead of refusing a
	// "Back up now" pressed just then.
	for i := 0; ; i++ {
		b, existing, err := enqueueBackupOnce(ctx, pool, client, cfg, req)
		if !errors.Is(err, ErrJobStillActive) || i >= 30 {
			return b, existing, err
		}
		select {
		case <-ctx.Done():
			return b, existing, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func enqueueBackupOnce(ctx context.Context, pool DB, client *river.Client[pgx.Tx], cfg *config.Config, req BackupRequest) (b queries.Backup, existing bool, err error) {
	args, err := backupArgs(req.Kind)
	if err != nil {
		return b, false, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		// Serialise requests per kind so two clicks cannot both see "nothing running".
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('pisbackup.backup.' || $1::text))", req.Kind); err != nil {
			return err
		}
		if cur, err := q.BackupActiveByKind(ctx, req.Kind); err == nil {
			b, existing = cur, true
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		b, err = q.BackupInsert(ctx, queries.BackupInsertParams{
			Kind: req.Kind, Trigger: req.Trigger, ScheduleID: req.ScheduleID, CreatedBy: req.CreatedBy,
			Encrypted: !cfg.Unencrypted, SourceRedacted: cfg.Source.String(), Format: formatOf(req.Kind),
		})
		if err != nil {
			return err
		}
		res, err := client.InsertTx(ctx, tx, args(b.ID), &river.InsertOpts{Queue: req.Queue})
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		if res.UniqueSkippedAsDuplicate {
			return ErrJobStillActive
		}
		b.JobID = &res.Job.ID
		return q.BackupSetJob(ctx, queries.BackupSetJobParams{ID: b.ID, JobID: &res.Job.ID})
	})
	return b, existing, err
}

// backupArgs maps a kind to its job. Kinds register here as their workers arrive.
func backupArgs(kind string) (func(id int64) river.JobArgs, error) {
	if f, ok := backupKinds[kind]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("unknown backup kind %q (want database, media or full)", kind)
}

var backupKinds = map[string]func(id int64) river.JobArgs{
	"database": func(id int64) river.JobArgs { return BackupDatabaseArgs{BackupID: id} },
	"media":    func(id int64) river.JobArgs { return BackupMediaArgs{BackupID: id} },
	"full":     func(id int64) river.JobArgs { return BackupFullArgs{BackupID: id} },
}

func formatOf(kind string) string {
	switch kind {
	case "database":
		return "pg_dump-custom+zstd+age"
	case "media":
		return "tar+zstd+age"
	}
	return "recovery-point"
}
