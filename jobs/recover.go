package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// Recovery modes: compare only, compare and write the SQL script, compare and apply.
const (
	RecoverDryRun = "dry_run"
	RecoverSQL    = "sql"
	RecoverApply  = "apply"
)

// RecoverRequest is one record recovery, from the CLI or the API. Actor is who asked (audit and catalog).
type RecoverRequest struct {
	BackupID    int64
	Table       string
	Keys        []recordrecovery.Key
	Where       string
	WithRelated bool
	// WithMedia also restores, into MEDIA_ROOT, the files the written rows reference (MEDIA_REFERENCE_COLUMNS)
	// that MEDIA_ROOT lacks, from the media part of the same full backup; never overwriting a file.
	WithMedia bool
	Mode      string
	Overwrite bool
	Actor     string
}

// RecoverResult is what a recovery found and did.
type RecoverResult struct {
	RecoveryID int64                    `json:"recovery_id"`
	BackupID   int64                    `json:"backup_id"`
	Mode       string                   `json:"mode"`
	Diff       *recordrecovery.Diff     `json:"diff"`
	Plan       *recordrecovery.Plan     `json:"plan,omitempty"`
	SQL        string                   `json:"sql,omitempty"`
	Touched    []recordrecovery.Touched `json:"written,omitempty"`
	UndoKey    string                   `json:"undo_artifact,omitempty"`
	// MediaBackupID is the media part the files come from (WithMedia); Media says what happens to each file
	// the written rows reference, MediaRestored which ones an applied recovery put into MEDIA_ROOT.
	MediaBackupID int64                         `json:"media_backup_id,omitempty"`
	Media         *recordrecovery.MediaPlan     `json:"media,omitempty"`
	MediaRestored []recordrecovery.RestoredFile `json:"media_restored,omitempty"`
}

// ErrNoWriteURL refuses --apply without SOURCE_WRITE_DATABASE_URL.
var ErrNoWriteURL = errors.New("SOURCE_WRITE_DATABASE_URL is not set: applying a recovery needs a role allowed to write the clinic " +
	"database (the backup role of SOURCE_DATABASE_URL stays read-only); use --sql-out to get the script instead")

// Recover compares the chosen rows of a database backup with the clinic database (recordrecovery.Compare),
// plans the writes and, by mode, stops there, renders the SQL script or applies it through
// SOURCE_WRITE_DATABASE_URL after saving the undo artifact. Each recovery gets a catalog row (recoveries) and
// audit events for its start and its outcome.
func Recover(ctx context.Context, d *Deps, req RecoverRequest) (*RecoverResult, error) {
	switch req.Mode {
	case RecoverDryRun, RecoverSQL, RecoverApply:
	default:
		return nil, fmt.Errorf("unknown recovery mode %q", req.Mode)
	}
	if req.Mode == RecoverApply && d.Cfg.SourceWrite == nil {
		return nil, ErrNoWriteURL
	}
	b, media, err := recoverySources(ctx, d, req.BackupID, req.WithMedia)
	if err != nil {
		return nil, err
	}
	sel, _ := json.Marshal(map[string]any{"keys": req.Keys, "where": req.Where, "with_related": req.WithRelated, "overwrite": req.Overwrite,
		"with_media": req.WithMedia})
	rec, err := d.Q.RecoveryCreate(ctx, queries.RecoveryCreateParams{BackupID: &b.ID, RequestedBy: req.Actor, Mode: req.Mode,
		TableName: req.Table, Selection: sel})
	if err != nil {
		return nil, fmt.Errorf("record the recovery: %w", err)
	}
	// From here until its outcome is recorded the recovery holds its lease (recover_lease.go): if this process
	// dies, the reconciler fails the row and drops its scratch database.
	ctx, release := holdRecovery(ctx, d, rec.ID)
	defer release()
	target := "recovery:" + strconv.FormatInt(rec.ID, 10)
	_ = auditRecovery(ctx, d, req.Actor, "recovery.start", target, map[string]any{"backup_id": b.ID, "table": req.Table,
		"selection": json.RawMessage(sel), "mode": req.Mode})
	res := &RecoverResult{RecoveryID: rec.ID, BackupID: b.ID, Mode: req.Mode}
	if media != nil {
		res.MediaBackupID = media.ID
	}
	sum, err := recoverRun(ctx, d, req, b, media, rec.ID, res)
	if err != nil && errors.Is(context.Cause(ctx), errRecoveryEnded) {
		err = fmt.Errorf("%w: %w", errRecoveryEnded, err)
	}
	raw, _ := json.Marshal(sum)
	status, err := finishRecovery(ctx, d, rec.ID, req.Mode, res, raw, err)
	var msg *string
	if err != nil {
		msg = ptr(err.Error())
	}
	details := map[string]any{"backup_id": b.ID, "table": req.Table, "mode": req.Mode, "status": status, "diff": json.RawMessage(raw)}
	if msg != nil {
		details["error"] = *msg
	}
	_ = auditRecovery(context.WithoutCancel(ctx), d, req.Actor, "recovery."+req.Mode, target, details)
	return res, err
}

func ptr[T any](v T) *T { return &v }

// finishRecovery records recovery id's outcome (runErr nil: succeeded) and returns the status it holds and the
// error to answer with. A recovery the reconciler ended first keeps its failed verdict — unless it is an apply
// whose rows were committed all the same (its process only stalled past the stale period after recording its
// undo artifact): the row then says the rows are written and stays undoable, since "failed" with the
// reconciler's "rolled back" would be false and --undo would refuse ("wrote nothing to undo").
func finishRecovery(ctx context.Context, d *Deps, id int64, mode string, res *RecoverResult, summary []byte, runErr error) (string, error) {
	status, msg := "succeeded", (*string)(nil)
	if runErr != nil {
		status, msg = "failed", ptr(runErr.Error())
	}
	ctx = context.WithoutCancel(ctx)
	_, ferr := d.Q.RecoveryFinish(ctx, queries.RecoveryFinishParams{ID: id, Status: status, Summary: summary, Error: msg})
	switch {
	case errors.Is(ferr, pgx.ErrNoRows) && runErr == nil && mode == RecoverApply && res.UndoKey != "":
		note := fmt.Sprintf("the reconciler ended this recovery while its process had stalled, but the process went on and committed its rows: "+
			"they are written to the clinic database (pisbackup recover --undo %d takes them back)", id)
		if _, lerr := d.Q.RecoveryFinishLateApply(ctx, queries.RecoveryFinishLateApplyParams{ID: id, Summary: summary, Error: note}); lerr != nil {
			return "failed", fmt.Errorf("%w, but its rows were written to the clinic database and recording that failed (recovery #%d, undo artifact %s): %v",
				errRecoveryEnded, id, res.UndoKey, lerr)
		}
		return "succeeded", fmt.Errorf("%w before its outcome was recorded, but its rows were written: %s", errRecoveryEnded, note)
	case errors.Is(ferr, pgx.ErrNoRows):
		// The reconciler ended it first; its row keeps that verdict, and so does the answer here.
		if runErr == nil {
			runErr = fmt.Errorf("%w before its outcome was recorded (its row says failed; see recovery #%d)", errRecoveryEnded, id)
		}
		return "failed", runErr
	case ferr != nil && runErr == nil:
		return status, fmt.Errorf("record the recovery's outcome: %w", ferr)
	}
	return status, runErr
}

// recoverySources finds the database backup the rows come from (id itself, or the database part of full
// backup id) and, withMedia, the media part of the same full backup.
func recoverySources(ctx context.Context, d *Deps, id int64, withMedia bool) (db queries.Backup, media *queries.Backup, err error) {
	b, err := d.Q.BackupGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, nil, fmt.Errorf("backup #%d not found", id)
	} else if err != nil {
		return b, nil, err
	}
	var parts []queries.Backup
	switch {
	case b.Kind == "full":
		if parts, err = d.Q.BackupListChildren(ctx, &b.ID); err != nil {
			return b, nil, err
		}
	case b.ParentID != nil && withMedia:
		if parts, err = d.Q.BackupListChildren(ctx, b.ParentID); err != nil {
			return b, nil, err
		}
	}
	if b.Kind == "full" {
		for _, p := range parts {
			if p.Kind == "database" {
				db = p
			}
		}
		if db.ID == 0 {
			return b, nil, fmt.Errorf("full backup #%d has no database part", b.ID)
		}
	} else {
		db = b
	}
	if err := verifiable(db); err != nil {
		return db, nil, err
	}
	if db.Kind != "database" || backup.IsLegacy(db.Format) {
		return db, nil, fmt.Errorf("backup #%d is a %s backup (format %s); records are recovered from pg_dump database backups", db.ID, db.Kind, db.Format)
	}
	if !withMedia {
		return db, nil, nil
	}
	for _, p := range parts {
		if p.Kind == "media" {
			media = &p
		}
	}
	if media == nil {
		return db, nil, fmt.Errorf("backup #%d has no media part: media files come back only from a full backup (choose one, or leave out --with-media)", db.ID)
	}
	if err := verifiable(*media); err != nil {
		return db, nil, fmt.Errorf("the media part of this full backup: %w", err)
	}
	return db, media, nil
}

func recoverRun(ctx context.Context, d *Deps, req RecoverRequest, b queries.Backup, media *queries.Backup, id int64, res *RecoverResult) (recordrecovery.Summary, error) {
	guard := NewGuard(d.Cfg, d.Q)
	pgRestore, err := backup.ClientFor(ctx, d.Cfg.PGClients, "pg_restore", guard.Admin)
	if err != nil {
		return recordrecovery.Summary{}, err
	}
	diff, err := recordrecovery.Compare(ctx, recordrecovery.Options{Artifact: artifactOf(d, b), PGRestore: pgRestore.Path,
		Guard: guard, ID: id, Live: guard.Source, Table: req.Table, Keys: req.Keys, Where: req.Where, WithRelated: req.WithRelated})
	res.Diff = diff
	sum := recordrecovery.Summarize(diff)
	if err != nil {
		return sum, err
	}
	plan, err := recordrecovery.NewPlan(diff, req.Overwrite)
	if err != nil {
		return sum, err
	}
	res.Plan = plan
	if media != nil {
		m, err := backup.ParseManifest(media.Manifest)
		if err != nil {
			return sum, fmt.Errorf("the media part #%d's manifest is unreadable: %w", media.ID, err)
		}
		if res.Media, err = plan.Media(d.Cfg.FileColumns, d.Cfg.MediaRoot, m); err != nil {
			return sum, err
		}
		sum.Media = recordrecovery.SummarizeMedia(media.ID, res.Media)
	}
	if req.Mode == RecoverDryRun {
		return sum, nil
	}
	res.SQL = plan.SQL(fmt.Sprintf("pisbackup record recovery #%d from backup #%d (%s), table %s", id, b.ID, b.QueuedAt.UTC().Format("2006-01-02 15:04 UTC"), diff.Table),
		"review, then run with: psql --single-transaction -v ON_ERROR_STOP=1 -f THIS_FILE (as a role allowed to write these tables)")
	if req.Mode == RecoverSQL {
		return sum, nil
	}
	write := d.Cfg.SourceWrite
	if err := recordrecovery.SameDatabase(ctx, write, guard.Source); err != nil {
		return sum, err
	}
	if res.Media != nil {
		// Copied out of the media backup and checked before anything is written.
		staging, err := os.MkdirTemp("", "pisbackup-recover-media-")
		if err != nil {
			return sum, err
		}
		defer os.RemoveAll(staging)
		if err := res.Media.Stage(ctx, artifactOf(d, *media), staging); err != nil {
			return sum, fmt.Errorf("media files (nothing was written): %w", err)
		}
	}
	key := storage.BackupKey("recovery-undo", d.now(), id, "json.zst.age")
	var placed []recordrecovery.RestoredFile
	touched, err := plan.Apply(ctx, write, func(u recordrecovery.Undo) error {
		u.RecoveryID, u.BackupID = id, b.ID
		if res.Media != nil {
			u.Files = res.Media.Restoring()
		}
		var sha string
		var size int64
		var err error
		if d.Keys != nil {
			sha, size, err = recordrecovery.SaveUndo(ctx, d.Store, d.Keys.Recipients, key, u)
		} else {
			sha, size, err = recordrecovery.SaveUndo(ctx, d.Store, nil, key, u)
		}
		if err != nil {
			return fmt.Errorf("save the undo artifact: %w", err)
		}
		if err := recordUndo(ctx, d, id, key, sha, size); err != nil {
			return err
		}
		if res.Media != nil {
			// The rows are locked and checked: the files go in now, and come out again if the rows fail.
			if placed, err = res.Media.Place(); err != nil {
				return fmt.Errorf("media files: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		if _, rerr := recordrecovery.RemoveRestored(d.Cfg.MediaRoot, placed); rerr != nil {
			err = fmt.Errorf("%w; and taking back the media files restored meanwhile failed: %v", err, rerr)
		}
		if res.Media != nil {
			sum.Media = recordrecovery.SummarizeMedia(media.ID, res.Media)
		}
		return sum, err
	}
	res.Touched, res.UndoKey, res.MediaRestored = touched, key, placed
	sum.Written, sum.UndoEncrypted = touched, d.Keys != nil
	if res.Media != nil {
		sum.Media = recordrecovery.SummarizeMedia(media.ID, res.Media) // Place may have found some present meanwhile
		for _, f := range placed {
			sum.Media.Restored = append(sum.Media.Restored, recordrecovery.PathDigest(f.Path))
		}
	}
	return sum, nil
}

// recordUndo records recovery id's undo artifact, its last step with the catalog before the clinic database is
// written. It fails with errRecoveryEnded when the recovery no longer runs or no longer holds its lease: the
// reconciler judged its process dead (it stalled past the stale period) and said nothing was written, and the
// heartbeat, which would have told it within a beat, may not have yet.
func recordUndo(ctx context.Context, d *Deps, id int64, key, sha string, size int64) error {
	n, err := d.Q.RecoverySetUndo(ctx, queries.RecoverySetUndoParams{ID: id, UndoKey: &key, UndoSha256: &sha, UndoBytes: &size})
	if err != nil {
		return fmt.Errorf("record the undo artifact: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: nothing was written", errRecoveryEnded)
	}
	return nil
}

// UndoResult is what an undo took back: rows reversed, media files removed from MEDIA_ROOT.
type UndoResult struct {
	RecoveryID   int64 `json:"recovery_id"`
	Rows         int   `json:"rows_reversed"`
	MediaRemoved int   `json:"media_files_removed"`
}

// UndoRecovery reverses an applied recovery from its undo artifact (recordrecovery.Reverse): only when every
// row it wrote is still exactly as it left it, all or nothing; then it removes the media files it restored
// (recordrecovery.CheckRestored first: a file changed since stops the undo before any row is touched). The
// CLI (`recover --undo`), the API and the page all call it; it is audited as recovery.undo or undo_failed.
func UndoRecovery(ctx context.Context, d *Deps, id int64, actor string) (UndoResult, error) {
	res := UndoResult{RecoveryID: id}
	if d.Cfg.SourceWrite == nil {
		return res, ErrNoWriteURL
	}
	rec, err := d.Q.RecoveryGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return res, fmt.Errorf("recovery #%d not found", id)
	} else if err != nil {
		return res, err
	}
	switch {
	case rec.Mode != RecoverApply:
		return res, fmt.Errorf("recovery #%d was a %s; it wrote nothing to undo", id, rec.Mode)
	case rec.Status == "undone":
		return res, fmt.Errorf("recovery #%d was already undone", id)
	case rec.Status != "succeeded" || rec.UndoKey == nil:
		return res, fmt.Errorf("recovery #%d %s and wrote nothing to undo", id, rec.Status)
	}
	var sum recordrecovery.Summary
	if err := json.Unmarshal(rec.Summary, &sum); err != nil {
		return res, fmt.Errorf("recovery #%d: unreadable summary: %w", id, err)
	}
	a := backup.Artifact{Store: d.Store, Key: *rec.UndoKey, Encrypted: sum.UndoEncrypted}
	if d.Keys != nil {
		a.Identities = d.Keys.Identities
	}
	if rec.UndoSha256 != nil && rec.UndoBytes != nil {
		if _, _, err := backup.Checksum(ctx, d.Store, a.Key, *rec.UndoSha256, *rec.UndoBytes); err != nil {
			return res, fmt.Errorf("recovery #%d's undo artifact: %w", id, err)
		}
	}
	u, err := recordrecovery.LoadUndo(ctx, a)
	if err != nil {
		return res, fmt.Errorf("recovery #%d's undo artifact: %w", id, err)
	}
	after := map[string]string{}
	for _, t := range sum.Written {
		after[t.Table+" "+t.Key] = t.AfterSHA256
	}
	write, live := d.Cfg.SourceWrite, d.Cfg.Source
	if err := recordrecovery.SameDatabase(ctx, write, live); err != nil {
		return res, err
	}
	target := "recovery:" + strconv.FormatInt(id, 10)
	details := map[string]any{"rows": len(u.Rows)}
	fail := func(err error) (UndoResult, error) {
		details["error"] = err.Error()
		_ = auditRecovery(context.WithoutCancel(ctx), d, actor, "recovery.undo_failed", target, details)
		return res, err
	}
	// The media files it restored: exactly those the catalog recorded as placed, each still as restored
	// (or gone); checked before any row is reversed.
	var files []recordrecovery.RestoredFile
	if sum.Media != nil {
		placed := map[string]bool{}
		for _, p := range sum.Media.Restored {
			placed[p] = true
		}
		for _, f := range u.Files {
			if placed[recordrecovery.PathDigest(f.Path)] {
				files = append(files, f)
			}
		}
		details["media_files"] = len(files)
	}
	there, err := recordrecovery.CheckRestored(d.Cfg.MediaRoot, files)
	if err != nil {
		return fail(err)
	}
	n, err := recordrecovery.Reverse(ctx, write, u, after)
	res.Rows = n
	details["reversed"] = n
	if err != nil {
		return fail(err)
	}
	removed, ferr := recordrecovery.RemoveRestored(d.Cfg.MediaRoot, there)
	res.MediaRemoved = removed
	details["media_removed"] = removed
	if ferr != nil {
		details["media_error"] = ferr.Error()
	}
	if _, err := d.Q.RecoveryUndone(ctx, queries.RecoveryUndoneParams{ID: id, UndoneBy: &actor}); err != nil {
		return res, fmt.Errorf("the rows were reversed but the catalog could not record it: %w", err)
	}
	_ = auditRecovery(ctx, d, actor, "recovery.undo", target, details)
	if ferr != nil {
		return res, fmt.Errorf("the rows were reversed, but: %w", ferr)
	}
	return res, nil
}

func auditRecovery(ctx context.Context, d *Deps, actor, action, target string, details any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = d.Q.AuditInsert(ctx, queries.AuditInsertParams{Actor: actor, Action: action, Target: target, UserAgent: "pisbackup recover", Details: raw})
	if err != nil && d.Log != nil {
		d.Log.Error("audit event NOT recorded", "action", action, "target", target, "error", err)
	}
	return err
}
