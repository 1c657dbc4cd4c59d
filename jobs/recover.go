package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	Mode        string
	Overwrite   bool
	Actor       string
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
}

// ErrNoWriteURL refuses --apply without SOURCE_WRITE_DATABASE_URL.
var ErrNoWriteURL = errors.New("SOURCE_WRITE_DATABASE_URL is not set: applying a recovery needs a role allowed to write the clinic " +
	"database (the backup role of SOURCE_DATABASE_URL stays read-only); use --sql-out to get the script instead")

// recoverySummary is what the catalog and the audit log keep of a recovery: keys, statuses and changed column
// names, never column values (those stay in the backup and the encrypted undo artifact).
type recoverySummary struct {
	Tables        []recordrecovery.TableDiff `json:"tables"`
	Rows          []summaryRow               `json:"rows"`
	Written       []recordrecovery.Touched   `json:"written,omitempty"`
	UndoEncrypted bool                       `json:"undo_encrypted,omitempty"`
}

type summaryRow struct {
	Table   string   `json:"table"`
	Key     string   `json:"key"`
	Status  string   `json:"status"`
	Columns []string `json:"changed_columns,omitempty"`
}

func summarize(d *recordrecovery.Diff) recoverySummary {
	s := recoverySummary{Tables: d.Tables, Rows: []summaryRow{}}
	for _, r := range d.Rows {
		sr := summaryRow{Table: r.Table, Key: r.Key, Status: r.Status}
		for _, c := range r.Changes {
			sr.Columns = append(sr.Columns, c.Column)
		}
		s.Rows = append(s.Rows, sr)
	}
	return s
}

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
	b, err := d.Q.BackupGet(ctx, req.BackupID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("backup #%d not found", req.BackupID)
	} else if err != nil {
		return nil, err
	}
	if err := verifiable(b); err != nil {
		return nil, err
	}
	if b.Kind != "database" || b.Format == backup.FormatLegacy {
		return nil, fmt.Errorf("backup #%d is a %s backup (format %s); records are recovered from pg_dump database backups", b.ID, b.Kind, b.Format)
	}
	sel, _ := json.Marshal(map[string]any{"keys": req.Keys, "where": req.Where, "with_related": req.WithRelated, "overwrite": req.Overwrite})
	rec, err := d.Q.RecoveryCreate(ctx, queries.RecoveryCreateParams{BackupID: &b.ID, RequestedBy: req.Actor, Mode: req.Mode,
		TableName: req.Table, Selection: sel})
	if err != nil {
		return nil, fmt.Errorf("record the recovery: %w", err)
	}
	target := "recovery:" + strconv.FormatInt(rec.ID, 10)
	_ = auditRecovery(ctx, d, req.Actor, "recovery.start", target, map[string]any{"backup_id": b.ID, "table": req.Table,
		"selection": json.RawMessage(sel), "mode": req.Mode})
	res := &RecoverResult{RecoveryID: rec.ID, BackupID: b.ID, Mode: req.Mode}
	sum, err := recoverRun(ctx, d, req, b, rec.ID, res)
	status, msg := "succeeded", (*string)(nil)
	if err != nil {
		status, msg = "failed", ptr(err.Error())
	}
	raw, _ := json.Marshal(sum)
	if _, ferr := d.Q.RecoveryFinish(context.WithoutCancel(ctx), queries.RecoveryFinishParams{ID: rec.ID, Status: status, Summary: raw, Error: msg}); ferr != nil && err == nil {
		err = fmt.Errorf("record the recovery's outcome: %w", ferr)
	}
	details := map[string]any{"backup_id": b.ID, "table": req.Table, "mode": req.Mode, "status": status, "diff": json.RawMessage(raw)}
	if msg != nil {
		details["error"] = *msg
	}
	_ = auditRecovery(context.WithoutCancel(ctx), d, req.Actor, "recovery."+req.Mode, target, details)
	return res, err
}

func ptr[T any](v T) *T { return &v }

func recoverRun(ctx context.Context, d *Deps, req RecoverRequest, b queries.Backup, id int64, res *RecoverResult) (recoverySummary, error) {
	guard := NewGuard(d.Cfg, d.Q)
	pgRestore, err := backup.ClientFor(ctx, d.Cfg.PGClients, "pg_restore", guard.Admin)
	if err != nil {
		return recoverySummary{}, err
	}
	diff, err := recordrecovery.Compare(ctx, recordrecovery.Options{Artifact: artifactOf(d, b), PGRestore: pgRestore.Path,
		Guard: guard, ID: id, Live: guard.Source, Table: req.Table, Keys: req.Keys, Where: req.Where, WithRelated: req.WithRelated})
	res.Diff = diff
	sum := summarize(diff)
	if err != nil {
		return sum, err
	}
	plan, err := recordrecovery.NewPlan(diff, req.Overwrite)
	if err != nil {
		return sum, err
	}
	res.Plan = plan
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
	key := storage.BackupKey("recovery-undo", d.now(), id, "json.zst.age")
	touched, err := plan.Apply(ctx, write, func(u recordrecovery.Undo) error {
		u.RecoveryID, u.BackupID = id, b.ID
		var sha string
		var size int64
		var err error
		if d.Keys != nil {
			sha, size, err = recordrecovery.SaveUndo(ctx, d.Store, d.Keys.Recipients, key, u)
		} else {
			sha, size, err = recordrecovery.SaveUndo(ctx, d.Store, nil, key, u)
		}
		if err != nil {
			return err
		}
		return d.Q.RecoverySetUndo(ctx, queries.RecoverySetUndoParams{ID: id, UndoKey: &key, UndoSha256: &sha, UndoBytes: &size})
	})
	if err != nil {
		return sum, err
	}
	res.Touched, res.UndoKey = touched, key
	sum.Written, sum.UndoEncrypted = touched, d.Keys != nil
	return sum, nil
}

// UndoRecovery reverses an applied recovery from its undo artifact (recordrecovery.Reverse): only when every
// row it wrote is still exactly as it left it, all or nothing.
func UndoRecovery(ctx context.Context, d *Deps, id int64, actor string) (int, error) {
	if d.Cfg.SourceWrite == nil {
		return 0, ErrNoWriteURL
	}
	rec, err := d.Q.RecoveryGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("recovery #%d not found", id)
	} else if err != nil {
		return 0, err
	}
	switch {
	case rec.Mode != RecoverApply:
		return 0, fmt.Errorf("recovery #%d was a %s; it wrote nothing to undo", id, rec.Mode)
	case rec.Status == "undone":
		return 0, fmt.Errorf("recovery #%d was already undone", id)
	case rec.Status != "succeeded" || rec.UndoKey == nil:
		return 0, fmt.Errorf("recovery #%d %s and wrote nothing to undo", id, rec.Status)
	}
	var sum recoverySummary
	if err := json.Unmarshal(rec.Summary, &sum); err != nil {
		return 0, fmt.Errorf("recovery #%d: unreadable summary: %w", id, err)
	}
	a := backup.Artifact{Store: d.Store, Key: *rec.UndoKey, Encrypted: sum.UndoEncrypted}
	if d.Keys != nil {
		a.Identities = d.Keys.Identities
	}
	if rec.UndoSha256 != nil && rec.UndoBytes != nil {
		if _, _, err := backup.Checksum(ctx, d.Store, a.Key, *rec.UndoSha256, *rec.UndoBytes); err != nil {
			return 0, fmt.Errorf("recovery #%d's undo artifact: %w", id, err)
		}
	}
	u, err := recordrecovery.LoadUndo(ctx, a)
	if err != nil {
		return 0, fmt.Errorf("recovery #%d's undo artifact: %w", id, err)
	}
	after := map[string]string{}
	for _, t := range sum.Written {
		after[t.Table+" "+t.Key] = t.AfterSHA256
	}
	write, live := d.Cfg.SourceWrite, d.Cfg.Source
	if err := recordrecovery.SameDatabase(ctx, write, live); err != nil {
		return 0, err
	}
	target := "recovery:" + strconv.FormatInt(id, 10)
	n, err := recordrecovery.Reverse(ctx, write, u, after)
	details := map[string]any{"rows": len(u.Rows), "reversed": n}
	if err != nil {
		details["error"] = err.Error()
		_ = auditRecovery(context.WithoutCancel(ctx), d, actor, "recovery.undo_failed", target, details)
		return 0, err
	}
	if _, err := d.Q.RecoveryUndone(ctx, queries.RecoveryUndoneParams{ID: id, UndoneBy: &actor}); err != nil {
		return n, fmt.Errorf("the rows were reversed but the catalog could not record it: %w", err)
	}
	_ = auditRecovery(ctx, d, actor, "recovery.undo", target, details)
	return n, nil
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
