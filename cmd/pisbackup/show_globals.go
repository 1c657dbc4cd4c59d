package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
)

func init() {
	register("show-globals", "print the global objects (roles, memberships, tablespaces) stored with a database backup, as SQL", cmdShowGlobals)
}

// cmdShowGlobals prints the `pg_dumpall --globals-only --no-role-passwords` SQL stored (sealed) beside a
// database backup, checked against the catalog's SHA-256 first. An administrator reviews it and runs what the
// new server needs (roles carry no passwords: set them after).
func cmdShowGlobals(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "show-globals", "ID")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == 0 {
		return usageErr("give the ID of a database backup")
	}
	a0, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a0.close()
	b, err := d.Q.BackupGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("backup #%d not found", id)
	} else if err != nil {
		return err
	}
	if b.Kind == "full" { // a full backup's global objects are its database part's
		parts, err := d.Q.BackupListChildren(ctx, &b.ID)
		if err != nil {
			return err
		}
		found := false
		for _, p := range parts {
			if p.Kind == "database" {
				b, found = p, true
			}
		}
		if !found {
			return fmt.Errorf("full backup #%d has no database part to read global objects from", id)
		}
	}
	m, err := backup.ParseManifest(b.Manifest)
	if err != nil || len(b.Manifest) == 0 {
		return fmt.Errorf("backup #%d has no manifest to find its global objects by", b.ID)
	}
	m.BackupID = b.ID
	a := backup.Artifact{Encrypted: b.Encrypted}
	if d.Keys != nil {
		a.Identities = d.Keys.Identities
	}
	sql, err := backup.ReadGlobals(ctx, d.Store, m, a)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(sql)
	return err
}
