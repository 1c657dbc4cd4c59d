package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// restoreMedia is `restore ID --target-dir DIR`: the media backup is extracted into a new or empty directory,
// refusing absolute paths, ".." and links leading outside it, and every file is checked against the manifest.
// It runs as a restore job (recorded and audited like database restores) in this process.
func restoreMedia(ctx context.Context, e *env, id int64, dir string, dry, asJSON bool) error {
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	req := jobs.RestoreRequest{BackupID: id, TargetDir: dir, DryRun: dry}
	if _, _, err := jobs.PlanMediaRestore(ctx, d.Q, req); errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("backup #%d not found", id)
	} else if err != nil {
		return err
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
	fmt.Fprintf(e.stderr, "restoring media backup #%d into %s (restore #%d)…\n", id, r.Target, r.ID)
	if r, err = waitRow(ctx, func(c context.Context) (queries.Restore, string, error) {
		r, err := d.Q.RestoreGet(c, r.ID)
		return r, r.Status, err
	}); err != nil {
		return err
	}
	var det struct {
		Media *struct {
			Files    int      `json:"files"`
			Bytes    int64    `json:"bytes"`
			Problems []string `json:"problems"`
		} `json:"media"`
	}
	_ = json.Unmarshal(r.Details, &det)
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		verb := "restored into"
		if dry {
			verb = "dry run (nothing written), checked for"
		}
		fmt.Fprintf(e.stdout, "restore #%d of media backup #%d %s %s: %s", r.ID, id, verb, r.Target, r.Status)
		if det.Media != nil {
			fmt.Fprintf(e.stdout, ", %d files, %s, every SHA-256 compared with the manifest", det.Media.Files, humanBytes(det.Media.Bytes))
			for _, p := range det.Media.Problems {
				fmt.Fprintf(e.stdout, "\n  %s", p)
			}
		}
		fmt.Fprintln(e.stdout)
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "error: %s\n", r.Error)
		}
	}
	if r.Status != "succeeded" {
		return silentExit(1)
	}
	return nil
}
