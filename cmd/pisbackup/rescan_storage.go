package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uscpis/pisbackup/jobs"
)

func init() {
	register("rescan-storage", "rebuild missing backup rows from the manifests in storage (after losing the catalog)", cmdRescanStorage)
}

func cmdRescanStorage(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "rescan-storage", "[--json]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := jobs.Rescan(ctx, d)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(e.stdout, "scanned %s: %d manifests, %d backups added (%d NOT good), %d already in the catalog, %d skipped\n",
		d.Store.String(), rep.Manifests, len(rep.Added), len(rep.NotGood), rep.Present, len(rep.Skipped))
	for _, id := range rep.Added {
		fmt.Fprintf(e.stdout, "  added backup #%d (hashed)\n", id)
	}
	for _, s := range rep.NotGood {
		fmt.Fprintf(e.stdout, "  NOT GOOD %s\n", s)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(e.stdout, "  skipped %s\n", s)
	}
	return nil
}
