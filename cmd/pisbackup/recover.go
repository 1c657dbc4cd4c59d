package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/uscpis/pisbackup/internal/recordrecovery"
	"github.com/uscpis/pisbackup/jobs"
)

func init() {
	register("recover", "bring back chosen rows (a deleted patient, an overwritten note) from a database backup, or undo such a recovery", cmdRecover)
}

// keyFlags collects repeated --key column=value flags.
type keyFlags []recordrecovery.Key

func (k *keyFlags) String() string { return fmt.Sprint(len(*k)) }
func (k *keyFlags) Set(s string) error {
	key, err := recordrecovery.ParseKey(s)
	if err != nil {
		return err
	}
	*k = append(*k, key)
	return nil
}

func cmdRecover(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "recover", "--backup ID --table T (--key col=value … | --where FILTER) [--with-related] [--with-media] "+
		"[--dry-run | --sql-out FILE | --apply [--overwrite]] [--json]  |  --undo RECOVERY_ID")
	backupID := fs.Int64("backup", 0, "the database backup to recover rows from")
	table := fs.String("table", "", "table holding the rows (table or schema.table), e.g. patients_patient")
	var keys keyFlags
	fs.Var(&keys, "key", "row to recover by column value, e.g. id=1042 (repeat for more rows; col=v,col2=w for a composite key)")
	where := fs.String("where", "", "simple filter instead of / besides --key: column op value [AND …], e.g. \"student_id = 'S-1042'\"")
	related := fs.Bool("with-related", false, "also the rows linked by foreign keys: children pointing at the chosen rows and the parents they need")
	withMedia := fs.Bool("with-media", false, "full backups: also restore into MEDIA_ROOT the files the recovered rows reference (MEDIA_REFERENCE_COLUMNS) that it lacks, never overwriting one")
	dry := fs.Bool("dry-run", false, "show the difference with the clinic database and change nothing (the default)")
	sqlOut := fs.String("sql-out", "", "write the recovery as a reviewable SQL script (one transaction) to FILE; change nothing")
	apply := fs.Bool("apply", false, "write the recovery into the clinic database through SOURCE_WRITE_DATABASE_URL (undo with --undo)")
	overwrite := fs.Bool("overwrite", false, "also put back the backup's version of rows changed since (otherwise only missing rows are inserted)")
	undo := fs.Int64("undo", 0, "reverse an applied recovery by its id")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument " + fs.Arg(0) + ": give the backup with --backup ID")
	}
	if *undo != 0 {
		if *backupID != 0 || *table != "" || *apply || *sqlOut != "" || *dry || len(keys) > 0 || *where != "" || *withMedia {
			return usageErr("--undo RECOVERY_ID takes no other choice of rows or mode")
		}
		return recoverUndo(ctx, e, *undo, *asJSON)
	}
	modes := 0
	mode := jobs.RecoverDryRun
	for _, m := range []struct {
		on   bool
		mode string
	}{{*dry, jobs.RecoverDryRun}, {*sqlOut != "", jobs.RecoverSQL}, {*apply, jobs.RecoverApply}} {
		if m.on {
			modes++
			mode = m.mode
		}
	}
	switch {
	case modes > 1:
		return usageErr("choose one of --dry-run, --sql-out FILE and --apply")
	case *backupID <= 0:
		return usageErr("--backup ID is required (pisbackup list-backups shows them)")
	case *table == "":
		return usageErr("--table is required, e.g. --table patients_patient")
	case len(keys) == 0 && strings.TrimSpace(*where) == "":
		return usageErr("choose rows with --key column=value (e.g. --key id=1042) or --where")
	case *overwrite && mode == jobs.RecoverDryRun:
		return usageErr("--overwrite changes what --sql-out writes or --apply does; a dry run shows changed rows anyway")
	}
	// The script's file is created before anything runs: a path that cannot be written fails at once, not after
	// a recovery the catalog would record as scripted, and an existing file (anything, perhaps readable by
	// others, which a rewrite would keep) is never overwritten with patients' rows.
	var script *os.File
	var writeScript func(string) error
	if mode == jobs.RecoverSQL {
		f, err := os.OpenFile(*sqlOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if os.IsExist(err) {
				return fmt.Errorf("--sql-out: %s already exists; choose a new file (it is never overwritten)", *sqlOut)
			}
			return fmt.Errorf("--sql-out: %w", err)
		}
		script = f
		written := false
		defer func() {
			script.Close()
			if !written {
				os.Remove(*sqlOut)
			}
		}()
		writeScript = func(sql string) error {
			if _, err := script.WriteString(sql); err != nil {
				return err
			}
			if err := script.Close(); err != nil {
				return err
			}
			written = true
			return nil
		}
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	if mode == jobs.RecoverApply && a.cfg.SourceWrite == nil {
		return fmt.Errorf("%w", jobs.ErrNoWriteURL)
	}
	actor := "cli"
	if u := a.getenv("USER"); u != "" {
		actor = "cli:" + u
	}
	res, err := jobs.Recover(ctx, d, jobs.RecoverRequest{BackupID: *backupID, Table: *table, Keys: keys, Where: *where,
		WithRelated: *related, WithMedia: *withMedia, Mode: mode, Overwrite: *overwrite, Actor: actor})
	if res == nil {
		return err
	}
	if err == nil && mode == jobs.RecoverSQL {
		if werr := writeScript(res.SQL); werr != nil {
			return fmt.Errorf("--sql-out: %w", werr)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		out := map[string]any{"result": res}
		if err != nil {
			out["error"] = err.Error()
		}
		_ = enc.Encode(out)
		if err != nil {
			return silentExit(1)
		}
		return nil
	}
	printDiff(e, res)
	if err != nil {
		return fmt.Errorf("recovery #%d: %w", res.RecoveryID, err)
	}
	switch mode {
	case jobs.RecoverDryRun:
		fmt.Fprintf(e.stdout, "dry run (recovery #%d): nothing was changed; --sql-out FILE writes the script, --apply runs it\n", res.RecoveryID)
	case jobs.RecoverSQL:
		fmt.Fprintf(e.stdout, "recovery #%d: %d write(s) in %s (one transaction); nothing was changed\n", res.RecoveryID, len(res.Plan.Steps), *sqlOut)
	case jobs.RecoverApply:
		media := ""
		if res.Media != nil {
			media = fmt.Sprintf(" and %d media file(s) restored into MEDIA_ROOT", len(res.MediaRestored))
		}
		fmt.Fprintf(e.stdout, "recovery #%d: %d row(s) written%s; the previous versions are in %s; undo with: pisbackup recover --undo %d\n",
			res.RecoveryID, len(res.Touched), media, res.UndoKey, res.RecoveryID)
	}
	return nil
}

// printDiff prints the per-table counts and every row that is not unchanged.
func printDiff(e *env, res *jobs.RecoverResult) {
	d := res.Diff
	if d == nil {
		return
	}
	fmt.Fprintf(e.stdout, "backup #%d, %s, compared with the clinic database:\n", res.BackupID, d.Table)
	for _, t := range d.Tables {
		line := fmt.Sprintf("  %-45s %-8s missing %d, changed %d, unchanged %d, new since %d", t.Table, t.Role, t.Missing, t.Changed, t.Unchanged, t.New)
		if t.Refused != "" {
			line += " — refused: " + t.Refused
		}
		fmt.Fprintln(e.stdout, line)
	}
	if len(d.Rows) == 0 {
		fmt.Fprintf(e.stdout, "  no row of %s matches the selection, in the backup or in the clinic database: check --key/--where, --table and --backup\n", d.Table)
	}
	for _, r := range d.Rows {
		switch r.Status {
		case recordrecovery.Missing:
			fmt.Fprintf(e.stdout, "  missing   %s %s (deleted since the backup)\n", r.Table, r.Key)
		case recordrecovery.New:
			fmt.Fprintf(e.stdout, "  new       %s %s (only in the clinic database; left alone)\n", r.Table, r.Key)
		case recordrecovery.Changed:
			fmt.Fprintf(e.stdout, "  changed   %s %s\n", r.Table, r.Key)
			for _, c := range r.Changes {
				fmt.Fprintf(e.stdout, "      %s: backup %s, now %s\n", c.Column, clip(string(c.Backup)), clip(string(c.Live)))
			}
		}
	}
	for _, p := range d.Problems {
		fmt.Fprintf(e.stdout, "  restore problem: %s\n", p)
	}
	if res.Media != nil {
		how := "restore: missing from MEDIA_ROOT, put back only by --apply (the SQL script holds rows only)"
		if res.Mode == jobs.RecoverApply {
			how = "restore: put back into MEDIA_ROOT"
		}
		fmt.Fprintf(e.stdout, "media files the recovered rows reference (media backup #%d; %s):\n", res.MediaBackupID, how)
		for _, f := range res.Media.Files {
			line := fmt.Sprintf("  %-13s %s (%s %s %s)", f.Status, f.Path, f.Table, f.Key, f.Column)
			if f.Reason != "" {
				line += " — " + f.Reason
			}
			fmt.Fprintln(e.stdout, line)
		}
		if len(res.Media.Files) == 0 {
			fmt.Fprintln(e.stdout, "  none")
		}
	}
	if res.Plan != nil && res.Plan.Skipped > 0 && res.Mode != jobs.RecoverDryRun {
		fmt.Fprintf(e.stdout, "  %d changed row(s) left alone: pass --overwrite to put back the backup's version\n", res.Plan.Skipped)
	}
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:117] + "…"
	}
	return s
}

func recoverUndo(ctx context.Context, e *env, id int64, asJSON bool) error {
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	actor := "cli"
	if u := a.getenv("USER"); u != "" {
		actor = "cli:" + u
	}
	res, err := jobs.UndoRecovery(ctx, d, id, actor)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "recovery #%d undone: %d row(s) reversed, %d media file(s) removed\n", id, res.Rows, res.MediaRemoved)
	return nil
}
