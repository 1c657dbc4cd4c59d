package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("list-backups", "list recent backups", cmdListBackups)
}

func cmdListBackups(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "list-backups", "[--kind K] [--status S] [--limit N] [--json]")
	kind := fs.String("kind", "", "only this kind: database, media or full")
	status := fs.String("status", "", "only this status")
	limit := fs.Int("limit", 50, "at most this many rows")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *kind != "" {
		if err := oneOf("kind", *kind, jobs.BackupKinds...); err != nil {
			return err
		}
	}
	if *status != "" {
		if err := oneOf("status", *status, jobs.BackupStatuses...); err != nil {
			return err
		}
	}
	if *limit < 1 || *limit > 10000 {
		return usageErr("--limit must be between 1 and 10000")
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	p := queries.BackupListParams{Lim: int32(*limit)}
	if *kind != "" {
		p.Kind = kind
	}
	if *status != "" {
		p.Status = status
	}
	rows, err := queries.New(a.pool).BackupList(ctx, p)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]backupJSON, 0, len(rows))
		for _, b := range rows {
			out = append(out, toJSON(b))
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tTRIGGER\tQUEUED (UTC)\tSIZE\tKEY")
	for _, b := range rows {
		size, key := humanBytes(b.BytesStored), b.StorageKey
		if key == "" {
			size, key = "-", "-" // no artifact (failed, queued or running)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Kind, b.Status, b.Trigger,
			b.QueuedAt.UTC().Format(time.DateTime), size, key)
	}
	return tw.Flush()
}
