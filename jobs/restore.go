package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &RestoreWorker{D: d}) })
}

// RestoreArgs is the "restore" job: one restore (or dry run) of one backup into the target its restores row
// names. The job carries the row id only.
type RestoreArgs struct {
	RestoreID int64 `json:"restore_id"`
}

// Kind names the job in River.
func (RestoreArgs) Kind() string { return "restore" }

// InsertOpts: one attempt — a half-finished restore is not something to replay blindly.
func (RestoreArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueVerify, MaxAttempts: 1}
}

// RestoreWorker runs restores.
type RestoreWorker struct {
	river.WorkerDefaults[RestoreArgs]
	D *Deps
}

// Timeout fits restores of large databases.
func (w *RestoreWorker) Timeout(*river.Job[RestoreArgs]) time.Duration { return BackupTimeout }

// RestoreRequest asks for one database restore.
type RestoreRequest struct {
	BackupID int64
	// TargetDB is a database name on the restore server (see backup.Guard.CheckTarget): new, or created by
	// pisbackup for a restore and confirmed by Confirm repeating its name.
	TargetDB string
	// ReplaceUnowned is the administrator's explicit permission (CLI only: `restore --replace-unowned`) to
	// replace an existing database pisbackup did not create, still with the typed confirmation and never the
	// clinic database, the catalog or any database holding a pisbackup catalog.
	ReplaceUnowned bool
	// CreateRoles creates the roles the backup references and the restore server lacks, as NOLOGIN roles,
	// through ROLE_ADMIN_DATABASE_URL before pg_restore runs (backup.CreateMissingRoles), so their grants,
	// policies and memberships restore too. Refused up front, with the statements to run instead, when that
	// setting is missing and roles are missing.
	CreateRoles bool
	// TargetDir restores a media backup into a new or empty directory instead (see PlanMediaRestore).
	TargetDir   string
	Confirm     string
	DryRun      bool
	RequestedBy *int64
	Queue       string
}

// restorePlan is kept in the row's details so the worker restores exactly what was confirmed.
type restorePlan struct {
	Database string `json:"database"`
	Replace  bool   `json:"replace"`
	// ReplaceUnowned carries the administrator's --replace-unowned to the worker, which checks again.
	ReplaceUnowned bool   `json:"replace_unowned,omitempty"`
	Directory      string `json:"directory,omitempty"` // media restores (see restore_media.go)
	// CreateRoles carries RestoreRequest.CreateRoles; RolesCreated are the roles the worker created.
	CreateRoles  bool     `json:"create_roles,omitempty"`
	RolesCreated []string `json:"roles_created,omitempty"`
}

// TargetError is a refused restore target (protected, or an invalid name); the caller shows it on the field.
type TargetError struct{ Err error }

func (e *TargetError) Error() string { return e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// NotRestorableError means the backup itself cannot be restored (not finished, pruned, media, legacy…).
type NotRestorableError struct{ Err error }

func (e *NotRestorableError) Error() string { return e.Err.Error() }
func (e *NotRestorableError) Unwrap() error { return e.Err }

// CreateRolesError refuses a restore's CreateRoles: the backup was uploaded (its roles are the file's own
// claim), ROLE_ADMIN_DATABASE_URL is not set while roles are missing (the message lists the statements an
// administrator can run instead), or a missing role has a name PostgreSQL reserves.
type CreateRolesError struct{ Err error }

func (e *CreateRolesError) Error() string { return e.Err.Error() }
func (e *CreateRolesError) Unwrap() error { return e.Err }

// ErrConfirmTarget means the target exists and the request did not repeat its name to confirm replacing it.
var ErrConfirmTarget = errors.New("confirmation required")

// PlanRestore checks a request without changing anything: the backup can be restored, the restore role is
// fit to run a dump's SQL, the target is allowed (asked of the servers, see backup.Guard.CheckTarget), and an
// existing target was confirmed by name. It returns the target's settings and whether it exists.
func PlanRestore(ctx context.Context, q *queries.Queries, cfg *config.Config, req RestoreRequest) (queries.Backup, *dbconn.Settings, bool, error) {
	b, err := q.BackupGet(ctx, req.BackupID)
	if err != nil {
		return b, nil, false, err
	}
	if err := restorable(b); err != nil {
		return b, nil, false, &NotRestorableError{Err: err}
	}
	guard := NewGuard(cfg, q)
	if req.ReplaceUnowned {
		guard.Replacing = req.TargetDB
	}
	target := guard.Admin.WithDatabase(req.TargetDB)
	if !req.DryRun {
		if _, err := guard.CheckRole(ctx); err != nil {
			return b, nil, false, err
		}
	}
	st, err := guard.CheckTarget(ctx, req.TargetDB, req.ReplaceUnowned)
	if err != nil {
		if errors.Is(err, backup.ErrProtectedTarget) || errors.Is(err, backup.ErrBadTargetName) {
			return b, nil, false, &TargetError{Err: err}
		}
		return b, nil, false, err
	}
	if req.CreateRoles && b.Trigger == "upload" {
		return b, nil, false, &CreateRolesError{Err: fmt.Errorf("backup #%d was uploaded: the roles it lists are the file's own claim, so --create-roles is refused; create the roles you trust by hand and restore without it", b.ID)}
	}
	if req.CreateRoles && !req.DryRun && cfg.RoleAdmin == nil {
		var roles []string
		if m, perr := backup.ParseManifest(b.Manifest); perr == nil && len(b.Manifest) > 0 {
			roles = m.Roles
		}
		if _, err := backup.CreateMissingRoles(ctx, nil, guard.Admin, roles); err != nil {
			if errors.Is(err, backup.ErrNoRoleAdmin) || errors.Is(err, backup.ErrReservedRole) {
				err = &CreateRolesError{Err: err}
			}
			return b, nil, false, err // nothing missing is fine: there is nothing to create
		}
	}
	if st.Exists && req.Confirm != req.TargetDB && !req.DryRun {
		what := "pisbackup created it for an earlier restore"
		if !st.Owned {
			what = "pisbackup did NOT create it"
		}
		return b, target, true, fmt.Errorf("%w: database %q already exists (%s); to REPLACE it (its current content is dropped), confirm by typing its name", ErrConfirmTarget, req.TargetDB, what)
	}
	return b, target, st.Exists, nil
}

// restorable switches on the kind like verification does; media restores arrive with the media reader.
func restorable(b queries.Backup) error {
	if err := verifiable(b); err != nil {
		return err
	}
	switch {
	case b.Kind == "media":
		return errors.New("a media backup restores into a directory (--target-dir), not a database")
	case b.Kind == "full":
		return errors.New("restore a full backup through its database and media parts")
	case backup.IsLegacy(b.Format):
		return errors.New("legacy Django exports are restored with `manage.py loaddata`, not pg_restore (see docs/disaster-recovery.md)")
	}
	return nil
}

// EnqueueRestore plans the restore, then records its row and job in one transaction.
func EnqueueRestore(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], cfg *config.Config, req RestoreRequest) (queries.Restore, error) {
	if req.TargetDir != "" {
		return enqueueMediaRestore(ctx, pool, client, req)
	}
	var r queries.Restore
	_, target, exists, err := PlanRestore(ctx, queries.New(pool), cfg, req)
	if err != nil {
		return r, err
	}
	plan, _ := json.Marshal(restorePlan{Database: req.TargetDB, Replace: exists, ReplaceUnowned: req.ReplaceUnowned, CreateRoles: req.CreateRoles})
	return insertRestore(ctx, pool, client, req, queries.RestoreInsertParams{BackupID: req.BackupID, TargetKind: "database",
		Target: target.String(), DryRun: req.DryRun, RequestedBy: req.RequestedBy, Details: plan})
}

// insertRestore records a restore row and its job in one transaction (both or neither), for database and
// directory targets alike.
func insertRestore(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], req RestoreRequest, p queries.RestoreInsertParams) (r queries.Restore, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		r, err = q.RestoreInsert(ctx, p)
		if err != nil {
			return err
		}
		var opts *river.InsertOpts
		if req.Queue != "" {
			opts = &river.InsertOpts{Queue: req.Queue}
		}
		res, err := client.InsertTx(ctx, tx, RestoreArgs{RestoreID: r.ID}, opts)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		r.JobID = &res.Job.ID
		return q.RestoreSetJob(ctx, queries.RestoreSetJobParams{ID: r.ID, JobID: &res.Job.ID})
	})
	return r, err
}
