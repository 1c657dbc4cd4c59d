package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/queries"
)

// restoreResult is the details of a finished restore.
type restoreResult struct {
	restorePlan
	DryRun     bool                   `json:"dry_run,omitempty"`
	Listing    string                 `json:"listing,omitempty"`
	Entries    int                    `json:"entries,omitempty"`
	PlainBytes int64                  `json:"plain_bytes,omitempty"`
	RestoreMS  int64                  `json:"restore_ms,omitempty"`
	Tables     []backup.TableCheck    `json:"tables,omitempty"`
	Sequences  []backup.SequenceCheck `json:"sequences,omitempty"`
	Objects    *backup.ObjectsCheck   `json:"objects,omitempty"`
	Warnings   []string               `json:"warnings,omitempty"`
	// Problems are the pg_restore errors the restore continued past ("restored with N problems").
	Problems backup.RestoreProblems `json:"restore_problems"`
	Media    *backup.MediaCheck     `json:"media,omitempty"`
}

// Work restores, or for a dry run lists the archive and changes nothing.
func (w *RestoreWorker) Work(ctx context.Context, job *river.Job[RestoreArgs]) error {
	d := w.D
	r, err := d.Q.RestoreStart(ctx, job.Args.RestoreID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	res := restoreResult{DryRun: r.DryRun}
	if err := json.Unmarshal(r.Details, &res.restorePlan); err != nil || (res.Database == "" && res.Directory == "") {
		return finishRestore(ctx, d, r, res, errors.New("the restore row names no target database"))
	}
	b, err := d.Q.BackupGet(ctx, r.BackupID)
	if err != nil {
		return finishRestore(ctx, d, r, res, err)
	}
	return finishRestore(ctx, d, r, res, runRestore(ctx, d, b, r, &res))
}

func runRestore(ctx context.Context, d *Deps, b queries.Backup, r queries.Restore, res *restoreResult) error {
	if res.Directory != "" {
		return runMediaRestore(ctx, d, b, r, res)
	}
	if err := restorable(b); err != nil {
		return err
	}
	a := artifactOf(d, b)
	if r.DryRun {
		l, err := listArchive(ctx, d, a)
		if l != nil {
			res.Listing, res.Entries, res.PlainBytes = l.Text, l.Entries, l.PlainBytes
			if len(res.Listing) > maxListing {
				res.Listing = res.Listing[:maxListing] + "\n; … listing truncated"
			}
		}
		return err
	}
	guard := NewGuard(d.Cfg, d.Q)
	if res.ReplaceUnowned {
		guard.Replacing = res.Database
	}
	admin, target := guard.Admin, guard.Admin.WithDatabase(res.Database)
	// Checked again here, whatever the enqueuer checked: the worker is the last line before data is written.
	if _, err := guard.CheckRole(ctx); err != nil {
		return err
	}
	if d.Cfg.RestoreAllowSuperuser {
		d.Log.Warn("RESTORE_ALLOW_SUPERUSER=true: this restore runs the backup's SQL with whatever power the restore role has", "restore_id", r.ID)
	}
	st, err := guard.CheckTarget(ctx, res.Database, res.ReplaceUnowned)
	if err != nil {
		return err
	}
	if st.Exists && !res.Replace {
		return fmt.Errorf("database %q appeared after the restore was confirmed as new; refusing to overwrite it", res.Database)
	}
	pgRestore, err := backup.ClientFor(ctx, d.Cfg.PGClients, "pg_restore", admin)
	if err != nil {
		return err
	}
	var props *backup.DatabaseProperties
	var roles []string
	if m, perr := backup.ParseManifest(b.Manifest); perr == nil && len(b.Manifest) > 0 {
		props, roles = m.Properties, m.Roles
	}
	if res.CreateRoles && b.Trigger == "upload" { // checked again: the worker is the last line
		return fmt.Errorf("backup #%d was uploaded: the roles it lists are the file's own claim; create-roles is refused", b.ID)
	}
	if res.CreateRoles { // before the target exists: a refusal leaves nothing behind
		res.RolesCreated, err = backup.CreateMissingRoles(ctx, d.Cfg.RoleAdmin, admin, roles)
		if len(res.RolesCreated) > 0 {
			d.Log.Info("restore created missing roles as NOLOGIN", "restore_id", r.ID, "roles", res.RolesCreated)
		}
		if err != nil {
			return err
		}
	}
	var created []string
	if st.Exists {
		created, err = guard.ReplaceTarget(ctx, res.Database, props)
	} else {
		created, err = guard.CreateOwnedAs(ctx, res.Database, "restore", props)
	}
	res.Warnings = append(res.Warnings, created...)
	if err != nil {
		return err
	}
	// CreateOwned marked it (COMMENT plus the catalog's record): if this process dies, the reconciler drops a
	// new target only while that record still matches the server's database (reconcile_checks.go).
	var done atomic.Int64
	stop := progressLoop(ctx, func(c context.Context) {
		_ = d.Q.RestoreProgress(c, queries.RestoreProgressParams{ID: r.ID, ProgressBytes: done.Load(), ProgressTotal: b.BytesRead})
	})
	start := time.Now()
	// The archive's rows are digested as they are restored (only when the manifest says in which settings they
	// were written), so the restored database is compared with what the backup holds, row content included.
	m, _ := backup.ParseManifest(b.Manifest)
	var content *backup.ArchiveContent
	if m != nil && m.DumpSettings != nil {
		res.PlainBytes, res.Problems, content, err = backup.RestoreAndDigest(ctx, a, pgRestore.Path, target, func(n int64) { done.Store(n) })
	} else {
		res.PlainBytes, res.Problems, err = backup.RestoreInto(ctx, a, pgRestore.Path, target, func(n int64) { done.Store(n) })
	}
	res.RestoreMS = time.Since(start).Milliseconds()
	stop()
	if err != nil {
		// The database holds only a partial restore, and pisbackup created it (new or re-created when replaced):
		// remove it so a retry starts clean. DropOwned checks the mark again.
		// Problems pg_restore continued past are not such a failure: the database keeps everything that did
		// restore, and the row lists each problem.
		_ = guard.DropOwned(ctx, res.Database, "restore")
		return err
	}
	return compareRestored(ctx, b, target, content, res)
}

// compareRestored compares the restored database with the manifest (counts, content digests, sequences, schema
// objects, materialized views, large objects), like a drill does, tying differences to res.Problems.
func compareRestored(ctx context.Context, b queries.Backup, target *dbconn.Settings, content *backup.ArchiveContent, res *restoreResult) error {
	// The restored database carries the source's timeouts; the comparison's sessions start with them off.
	target = target.WithParams(backup.NoTimeouts)
	conn, err := target.Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect to the restored database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var expected []backup.TableCount
	var seqs []backup.SequenceValue
	var inv *backup.ObjectInventory
	var roles, spaces []string
	var settings map[string]string
	if m, err := backup.ParseManifest(b.Manifest); err == nil && len(b.Manifest) > 0 {
		expected, seqs, inv, roles, spaces, settings = m.Tables, m.Sequences, m.Inventory, m.Roles, m.Tablespaces, m.DumpSettings
	}
	cmp := backup.DrillResult{Problems: res.Problems}
	err = backup.CompareRestored(ctx, conn, backup.Expected{Tables: expected, Sequences: seqs, Inventory: inv,
		Content: content, DumpSettings: settings, Connect: target.Connect}, &cmp)
	res.Tables, res.Sequences, res.Objects = cmp.Tables, cmp.Sequences, cmp.Objects
	res.Warnings = append(res.Warnings, cmp.Warnings...)
	if err != nil {
		return fmt.Errorf("restored, but %w", err)
	}
	w, err := backup.TargetWarnings(ctx, conn, roles, spaces)
	res.Warnings = append(res.Warnings, w...)
	return err
}

// progressLoop calls save once a second while a drill or restore runs, and once more when stop is called, so
// its page shows bytes restored of the total as it goes.
func progressLoop(ctx context.Context, save func(context.Context)) (stop func()) {
	hctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				save(hctx)
			}
		}
	}()
	return func() {
		cancel()
		<-finished
		save(context.WithoutCancel(ctx))
	}
}

func finishRestore(ctx context.Context, d *Deps, r queries.Restore, res restoreResult, runErr error) error {
	status, msg := "succeeded", strings.TrimSpace(problemsText(res.Problems)+"\n"+strings.Join(res.Warnings, "\n"))
	if runErr != nil {
		if p := problemsText(res.Problems); p != "" {
			runErr = fmt.Errorf("%w; %s", runErr, p)
		}
		status, msg = "failed", d.Cfg.ScrubErr(runErr)
		if why, ok := cancelReason(ctx); ok {
			status, msg = "cancelled", why
		}
		d.Log.Warn("restore did not succeed", "restore_id", r.ID, "backup_id", r.BackupID, "error", msg)
	}
	if line := rolesCreatedText(res.RolesCreated, runErr != nil); line != "" {
		msg = strings.TrimSpace(msg + "\n" + line)
	}
	raw, _ := json.Marshal(res)
	_, err := finalWrite(ctx, d, func(c context.Context) (queries.Restore, error) {
		return d.Q.RestoreFinish(c, queries.RestoreFinishParams{ID: r.ID, Status: status, Details: raw, Error: msg})
	})
	return err
}

// rolesCreatedText is the row's line naming the roles a restore created (--create-roles), "" when none: they
// are server-wide and outlive the target, so a failed restore names them with the statements that remove them.
func rolesCreatedText(roles []string, failed bool) string {
	if len(roles) == 0 {
		return ""
	}
	line := fmt.Sprintf("created %d missing role(s) as NOLOGIN: %s", len(roles), strings.Join(roles, ", "))
	if failed {
		drops := make([]string, len(roles))
		for i, r := range roles {
			drops[i] = "DROP ROLE " + pgx.Identifier{r}.Sanitize() + ";"
		}
		line += "; the restore failed but they stay on the server; to remove them, as an administrator there: " + strings.Join(drops, " ")
	}
	return line
}

// problemsText is a restore's problems as the row's message: "restored with N problems (…)" and one line per
// problem (the first 20; the details hold up to 500).
func problemsText(p backup.RestoreProblems) string {
	if p.Count() == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(p.Summary())
	for i, x := range p.List {
		if i == 20 {
			fmt.Fprintf(&b, "\n… %d more in the details", len(p.List)-20)
			break
		}
		b.WriteString("\n- " + x.String())
	}
	return b.String()
}
