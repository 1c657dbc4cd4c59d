package main

import (
	"encoding/json"
	"fmt"

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

// migrateDryRun plans only: no database, no Cloudinary request, no file touched.
func migrateDryRun(e *env, cfg *config.Config, asJSON bool) error {
	items, err := mediamigration.Plan(cfg.MediaRoot)
	if err != nil {
		return err
	}
	rep := mediamigration.Summarize(items)
	configured := cfg.CloudinaryConfigured()
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"dry_run": true, "cloudinary_configured": configured, "report": rep})
	}
	if !configured {
		fmt.Fprintln(e.stdout, "Cloudinary is not configured (set CLOUDINARY_URL): a real run would refuse to start; this plan only lists what is there")
	}
	fmt.Fprintf(e.stdout, "dry run: %d files, %s would be uploaded to Cloudinary folder %s\n", rep.Files, humanBytes(rep.Bytes), mediamigration.Folder)
	for _, f := range rep.Folders {
		fmt.Fprintf(e.stdout, "  %-32s %6d files  %10s\n", f.Folder, f.Files, humanBytes(f.Bytes))
	}
	for _, it := range items {
		if it.Conflict != "" {
			fmt.Fprintf(e.stdout, "conflict: %s would take public id %s from %s; rename one of them\n", it.Rel, it.PublicID, it.Conflict)
		}
	}
	fmt.Fprintln(e.stdout, "nothing was sent and nothing was changed")
	return nil
}
