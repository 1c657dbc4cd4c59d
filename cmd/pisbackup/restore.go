package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("restore", "restore a database backup into a new (or confirmed) database, or media into a directory", cmdRestore)
}

func cmdRestore(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "restore", "ID --target-db NAME [--yes | --replace-unowned --confirm NAME] | --target-dir DIR [--dry-run] [--json]")
	targetDB := fs.String("target-db", "", "database to restore into, on the restore server; must be new, or created by pisbackup for a restore and confirmed")
	targetDir := fs.String("target-dir", "", "directory to restore a media backup into")
	yes := fs.Bool("yes", false, "replace an existing target database that pisbackup created for a restore, without asking")
	createRoles := fs.Bool("create-roles", false, "create the roles the backup references and the restore server lacks, as NOLOGIN roles, "+
		"through ROLE_ADMIN_DATABASE_URL (a role with CREATEROLE) before restoring, so their grants and policies restore too")
	replaceUnowned := fs.Bool("replace-unowned", false, "administrators: allow replacing an existing database pisbackup did not create "+
		"(never the clinic database, the catalog or another installation's catalog); its name must be typed or given with --confirm")
	confirm := fs.String("confirm", "", "the target database's name again, confirming that its current content is dropped")
	dry := fs.Bool("dry-run", false, "print the archive listing and change nothing")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == 0 {
		return usageErr("give the backup ID to restore")
	}
	if *targetDir != "" {
		if *targetDB != "" {
			return usageErr("give --target-db (database backups) or --target-dir (media backups), not both")
		}
		return restoreMedia(ctx, e, id, *targetDir, *dry, *asJSON)
	}
	if *targetDB == "" {
		return usageErr("--target-db NAME is required")
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	req := jobs.RestoreRequest{BackupID: id, TargetDB: *targetDB, DryRun: *dry, ReplaceUnowned: *replaceUnowned, CreateRoles: *createRoles}
	b, _, _, err := jobs.PlanRestore(ctx, d.Q, a.cfg, req)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("backup #%d not found", id)
	case errors.Is(err, jobs.ErrConfirmTarget):
		// --yes stands for the typed name only for a database pisbackup created; replacing anything else
		// needs the name itself, typed or given with --confirm.
		typed := *confirm == *targetDB || (*yes && !*replaceUnowned)
		if !typed && !confirmName(e, *targetDB, err) {
			return fmt.Errorf("not confirmed; %q was left untouched", *targetDB)
		}
		req.Confirm = *targetDB
	case err != nil:
		return err
	}
	if *dry {
		// Nothing is recorded or queued: the listing is read straight from storage.
		pgRestore, err := a.cfg.PGClients.Newest(ctx, "pg_restore")
		if err != nil {
			return err
		}
		l, err := backup.ListArchive(ctx, backup.Artifact{Store: d.Store, Key: b.StorageKey, Encrypted: b.Encrypted,
			Identities: d.Keys.Identities}, pgRestore.Path)
		if err != nil {
			return err
		}
		fmt.Fprint(e.stdout, l.Text)
		fmt.Fprintf(e.stdout, "dry run: backup #%d would be restored into %q (%d archive entries); nothing was changed\n", id, *targetDB, l.Entries)
		return nil
	}
	client, queue, stop, err := privateClient(ctx, d)
	if err != nil {
		return err
	}
	defer stop()
	req.Queue = queue
	r, err := jobs.EnqueueRestore(ctx, a.pool, client, a.cfg, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "restoring backup #%d into %q (restore #%d)…\n", id, *targetDB, r.ID)
	if r, err = waitRow(ctx, func(c context.Context) (queries.Restore, string, error) {
		r, err := d.Q.RestoreGet(c, r.ID)
		return r, r.Status, err
	}); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		fmt.Fprintf(e.stdout, "restore #%d of backup #%d into %q: %s (%s read)\n", r.ID, id, *targetDB, r.Status, humanBytes(r.ProgressBytes))
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "error: %s\n", r.Error)
		}
	}
	if r.Status != "succeeded" {
		return silentExit(1)
	}
	return nil
}

// confirmName asks on stdin for the target's name; only the exact name confirms replacing it.
func confirmName(e *env, name string, why error) bool {
	fmt.Fprintf(e.stderr, "%v.\nType the database name to replace it: ", why)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	return strings.TrimSpace(line) == name
}
