package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// MigrationDetails is what a run's details column holds: the plan's summary and, after a real run, the outcome.
type MigrationDetails struct {
	Report  *mediamigration.Report  `json:"report,omitempty"`
	Outcome *mediamigration.Outcome `json:"outcome,omitempty"`
	// Resolvability is the per-column report taken before uploading (nil when the clinic database could not
	// be read; Notes then say why).
	Resolvability *mediamigration.Resolvability `json:"resolvability,omitempty"`
	Notes         []string                      `json:"notes,omitempty"`
}

// RunMediaMigration performs run id: plan, optional backup first, then upload and verify with the ledger.
// Per-file failures end the run "warning" and raise the media-migration alert; only problems that stop the
// whole run (no Cloudinary, media root missing, backup failed) end it "failed".
func RunMediaMigration(ctx context.Context, d *Deps, id int64, concurrency int, queue string) (queries.MediaMigration, error) {
	run, err := d.Q.MediaMigrationStart(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return run, nil // cancelled while queued
	} else if err != nil {
		return run, err
	}
	det := &MigrationDetails{}
	finish := func(status string, runErr error) (queries.MediaMigration, error) {
		raw, _ := json.Marshal(det)
		raw = []byte(d.Cfg.Scrub(string(raw))) // Cloudinary's answers are quoted in the details
		msg := d.Cfg.ScrubErr(runErr)
		if !run.DryRun { // before the row is final, so whoever sees the result also sees the alert
			failed := 0
			if det.Outcome != nil {
				failed = det.Outcome.Failed
			}
			migrationAlert(ctx, d, id, status, failed, msg)
		}
		return finalWrite(ctx, d, func(c context.Context) (queries.MediaMigration, error) {
			return d.Q.MediaMigrationFinish(c, queries.MediaMigrationFinishParams{ID: id, Status: status, Details: raw, Error: msg})
		})
	}
	// The app's naming depends on which storage each FileField uses, so the clinic database is read first.
	rep, refs, err := MediaResolvability(ctx, d.Cfg, d.Q)
	if err != nil {
		if run.DeleteLocal {
			return finish("failed", fmt.Errorf("--delete-local refused: %w; without it nothing proves the app will find the files", err))
		}
		det.Notes = append(det.Notes, "storage types guessed from extensions: "+d.Cfg.ScrubErr(err))
	}
	det.Resolvability = rep
	if run.DeleteLocal && !rep.OK() {
		return finish("failed", fmt.Errorf("--delete-local refused: %s; see the resolvability report (/media, pisbackup media-resolvability); nothing was uploaded or deleted", rep.Summary()))
	}
	items, err := mediamigration.Plan(d.Cfg.MediaRoot, MediaNaming(d.Cfg), refs)
	if err != nil {
		return finish("failed", err)
	}
	det.Report = mediamigration.Summarize(items)
	counts := mediamigration.Counts{Total: det.Report.Files, TotalBytes: det.Report.Bytes}
	saveProgress(ctx, d, id, counts)
	if run.DryRun {
		return finish("succeeded", nil)
	}
	client, err := cloudinary.New(d.Cfg.CloudinaryURL)
	if err != nil {
		return finish("failed", err)
	}
	if run.BackupFirst {
		note, err := backupFirst(ctx, d, id, queue)
		if err != nil {
			return finish("failed", err)
		}
		det.Notes = append(det.Notes, note)
	}
	var mu sync.Mutex
	last := time.Time{}
	out, err := mediamigration.Run(ctx, mediamigration.Options{Root: d.Cfg.MediaRoot, Client: client, Q: d.Q, Tag: d.Cfg.CloudinaryMediaTag,
		RunID: id, Concurrency: concurrency, DeleteLocal: run.DeleteLocal, Log: d.Log,
		Progress: func(c mediamigration.Counts) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) >= 300*time.Millisecond {
				last = time.Now()
				saveProgress(ctx, d, id, c)
			}
		}}, items)
	det.Outcome = out
	saveProgress(context.WithoutCancel(ctx), d, id, out.Counts)
	why, cancelled := cancelReason(ctx)
	switch {
	case err != nil && cancelled:
		return finish("cancelled", errors.New(why+"; re-run to resume"))
	case err != nil:
		return finish("failed", fmt.Errorf("stopped after %d of %d files: %w; re-run to resume", out.Done, out.Total, err))
	case out.Failed > 0:
		return finish("warning", fmt.Errorf("%d file(s) not uploaded or not verified", out.Failed))
	}
	return finish("succeeded", nil)
}

func saveProgress(ctx context.Context, d *Deps, id int64, c mediamigration.Counts) {
	_ = d.Q.MediaMigrationProgress(ctx, queries.MediaMigrationProgressParams{ID: id, TotalFiles: int32(c.Total),
		TotalBytes: c.TotalBytes, Uploaded: int32(c.Uploaded), Verified: int32(c.Verified), Skipped: int32(c.Skipped),
		Failed: int32(c.Failed), Deleted: int32(c.Deleted)})
}

// backupFirst takes a media backup and waits until it has succeeded; anything else stops the migration
// before a single upload.
func backupFirst(ctx context.Context, d *Deps, id int64, queue string) (string, error) {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return "", fmt.Errorf("--backup-first needs a running worker: %w", err)
	}
	if queue == QueueBackups {
		queue = ""
	}
	b, _, err := EnqueueBackup(ctx, d.Pool, client, d.Cfg, BackupRequest{Kind: "media", Trigger: "manual", Queue: queue})
	if err != nil {
		return "", fmt.Errorf("media backup before migrating: %w", err)
	}
	_ = d.Q.MediaMigrationSetBackup(ctx, queries.MediaMigrationSetBackupParams{ID: id, BackupID: &b.ID})
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		b, err = d.Q.BackupGet(ctx, b.ID)
		if err != nil {
			return "", err
		}
		switch b.Status {
		case "succeeded", "warning":
			return fmt.Sprintf("media backup #%d %s before uploading", b.ID, b.Status), nil
		case "failed", "cancelled":
			return "", fmt.Errorf("media backup #%d %s (%s); nothing was uploaded", b.ID, b.Status, b.Error)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// migrationAlert opens the media-migration alert when a run failed or files failed, and resolves it when a
// run is clean.
func migrationAlert(ctx context.Context, d *Deps, id int64, status string, failed int, msg string) {
	client, _ := river.ClientFromContextSafely[pgx.Tx](ctx)
	eng := d.Alerts(client)
	var err error
	switch status {
	case "warning", "failed":
		_, err = eng.Raise(context.WithoutCancel(ctx), alert.FromProblem(recovery.MediaMigrationFailed(id, failed, msg), ""))
	case "succeeded":
		_, err = eng.Clear(context.WithoutCancel(ctx), alert.RuleMediaMigration, "media_migration")
	}
	if err != nil {
		d.Log.Warn("media migration alert not updated", "migration_id", id, "error", err)
	}
}
