package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("migrate-to-cloudinary", "upload MEDIA_ROOT to Cloudinary, verified and resumable", cmdMigrateToCloudinary)
}

type migrateFlags struct {
	backupFirst, dryRun, deleteLocal, asJSON bool
	concurrency                              int
	mappingOut                               string
}

func cmdMigrateToCloudinary(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate-to-cloudinary", "[--backup-first] [--dry-run] [--delete-local] [--concurrency N] [--mapping-out PATH] [--json]")
	var f migrateFlags
	fs.BoolVar(&f.backupFirst, "backup-first", false, "take a media backup and wait for it to succeed before uploading")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print counts, sizes and per-folder totals; send nothing, change nothing")
	fs.BoolVar(&f.deleteLocal, "delete-local", false, "delete local files once Cloudinary's bytes and etag match them (never otherwise)")
	fs.IntVar(&f.concurrency, "concurrency", jobs.DefaultConcurrency, "uploads at once (1-64)")
	fs.StringVar(&f.mappingOut, "mapping-out", filepath.Join("var", "cloudinary-mapping"), "write the path → public id/URL mapping to PATH.json and PATH.csv")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.concurrency < 1 || f.concurrency > 64 {
		return usageErr("--concurrency must be between 1 and 64")
	}
	if f.dryRun && f.deleteLocal {
		return usageErr("--dry-run and --delete-local exclude each other")
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	if f.dryRun {
		return migrateDryRun(ctx, e, cfg, f.asJSON)
	}
	// Check the credentials before anything is queued, so a typo costs seconds, not a backup.
	c, err := cloudinary.New(cfg.CloudinaryURL)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = c.Ping(pctx)
	cancel()
	if err != nil {
		return err
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	queue := jobs.PrivateQueue()
	client, err := jobs.NewClient(d, jobs.Private, queue)
	if err != nil {
		return err
	}
	run, err := jobs.EnqueueMediaMigration(ctx, a.pool, client, jobs.MediaMigrationRequest{BackupFirst: f.backupFirst,
		DeleteLocal: f.deleteLocal, Concurrency: f.concurrency, Queue: queue})
	if errors.Is(err, jobs.ErrMigrationActive) {
		return fmt.Errorf("media migration #%d is already %s; wait for it or see /media", run.ID, run.Status)
	} else if err != nil {
		return err
	}
	wake, stopWake := jobsEnded(client)
	defer stopWake()
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	}()
	if run, err = waitMigration(ctx, e, d.Q, run.ID, wake); err != nil {
		return err
	}
	entries, err := mediamigration.Mapping(context.WithoutCancel(ctx), d.Q)
	if err != nil {
		return err
	}
	jsonPath, csvPath, err := mediamigration.WriteFiles(entries, f.mappingOut)
	if err != nil {
		return fmt.Errorf("write mapping: %w", err)
	}
	printMigration(e, run, f.asJSON, jsonPath, csvPath, len(entries))
	if run.Status != "succeeded" {
		return silentExit(1)
	}
	return nil
}

// waitMigration polls the run, drawing a progress bar on a terminal.
func waitMigration(ctx context.Context, e *env, q *queries.Queries, id int64, wake <-chan struct{}) (queries.MediaMigration, error) {
	return pollUntilDone(ctx, e, 250*time.Millisecond, wake,
		func(ctx context.Context) (queries.MediaMigration, error) { return q.MediaMigrationGet(ctx, id) },
		func(m queries.MediaMigration) string { return m.Status },
		migrationProgress, "interrupted; verified files are recorded, re-run to resume")
}

func migrationProgress(m queries.MediaMigration) string {
	done := m.Verified + m.Skipped + m.Failed
	width, fill := 30, 0
	if m.TotalFiles > 0 {
		fill = int(done) * width / int(m.TotalFiles)
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < fill {
			bar[i] = '#'
		}
	}
	return fmt.Sprintf("migration #%d [%s] %d/%d files (verified %d, skipped %d, failed %d)",
		m.ID, bar, done, m.TotalFiles, m.Verified, m.Skipped, m.Failed)
}
