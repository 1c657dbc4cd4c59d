package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func printMigration(e *env, m queries.MediaMigration, asJSON bool, jsonPath, csvPath string, mapped int) {
	var det jobs.MigrationDetails
	_ = json.Unmarshal(m.Details, &det)
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"id": m.ID, "status": m.Status, "total": m.TotalFiles, "uploaded": m.Uploaded,
			"verified": m.Verified, "skipped": m.Skipped, "failed": m.Failed, "deleted": m.Deleted, "error": m.Error,
			"backup_id": m.BackupID, "details": det, "mapping_json": jsonPath, "mapping_csv": csvPath})
		return
	}
	fmt.Fprintf(e.stdout, "media migration #%d %s: %d files, %d uploaded and verified, %d already verified (skipped), %d failed, %d deleted locally\n",
		m.ID, m.Status, m.TotalFiles, m.Verified, m.Skipped, m.Failed, m.Deleted)
	for _, n := range det.Notes {
		fmt.Fprintln(e.stdout, n)
	}
	if det.Outcome != nil {
		for _, f := range det.Outcome.Failures {
			fmt.Fprintf(e.stdout, "failed: %s: %s\n", f.Path, f.Error)
		}
	}
	if m.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", m.Error)
	}
	fmt.Fprintf(e.stdout, "mapping of %d files written to %s and %s\n", mapped, jsonPath, csvPath)
}

// migrateDryRun plans only: no Cloudinary request, no file touched, nothing recorded. It reads the clinic's
// FileField columns (read-only) so each file is planned under the storage type the app serves it with.
func migrateDryRun(ctx context.Context, e *env, cfg *config.Config, asJSON bool) error {
	var refs map[string]string
	note := ""
	if fc, err := backup.ReadFileColumns(ctx, cfg.Source, cfg.FileColumns); err != nil {
		note = "storage types guessed from extensions: " + cfg.ScrubErr(err)
	} else {
		refs = mediamigration.References(fc, jobs.MediaNaming(cfg), cfg.FileColumns)
	}
	items, err := mediamigration.Plan(cfg.MediaRoot, jobs.MediaNaming(cfg), refs)
	if err != nil {
		return err
	}
	rep := mediamigration.Summarize(items)
	configured := cfg.CloudinaryConfigured()
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"dry_run": true, "cloudinary_configured": configured,
			"report": rep, "items": items, "note": note})
	}
	if !configured {
		fmt.Fprintln(e.stdout, "Cloudinary is not configured (set CLOUDINARY_URL): a real run would refuse to start; this plan only lists what is there")
	}
	prefix := cfg.CloudinaryMediaPrefix
	if prefix == "" {
		prefix = "(none)"
	}
	fmt.Fprintf(e.stdout, "dry run: %d files, %s would be uploaded to Cloudinary with prefix %s and tag %s, named as django-cloudinary-storage names them\n",
		rep.Files, humanBytes(rep.Bytes), prefix, cfg.CloudinaryMediaTag)
	if note != "" {
		fmt.Fprintln(e.stdout, note)
	}
	for _, f := range rep.Folders {
		fmt.Fprintf(e.stdout, "  %-32s %6d files  %10s\n", f.Folder, f.Files, humanBytes(f.Bytes))
	}
	for _, it := range items {
		switch {
		case it.Problem != "":
			fmt.Fprintf(e.stdout, "not uploadable: %s: %s\n", it.Rel, it.Problem)
		case it.Conflict != "":
			fmt.Fprintf(e.stdout, "conflict: %s would take %s public id %s from %s; rename one of them\n", it.Rel, it.ResourceType, it.PublicID, it.Conflict)
		}
	}
	fmt.Fprintln(e.stdout, "nothing was sent and nothing was changed; pisbackup media-resolvability lists the rows the app could not resolve")
	return nil
}
