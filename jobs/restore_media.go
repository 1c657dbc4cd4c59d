package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// PlanMediaRestore checks a media restore without changing anything: the backup is a finished media backup
// and the target directory is new or empty (a restore never mixes with or overwrites existing files). It
// returns the directory as an absolute path, which is what the row records.
func PlanMediaRestore(ctx context.Context, q *queries.Queries, req RestoreRequest) (queries.Backup, string, error) {
	b, err := q.BackupGet(ctx, req.BackupID)
	if err != nil {
		return b, "", err
	}
	if err := verifiable(b); err != nil {
		return b, "", err
	}
	if b.Kind != "media" {
		return b, "", fmt.Errorf("backup #%d is a %s backup; only media backups restore into a directory", b.ID, b.Kind)
	}
	dir, err := filepath.Abs(req.TargetDir)
	if err != nil {
		return b, "", err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return b, dir, fmt.Errorf("target directory %s is not empty; restore into a new or empty directory", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return b, dir, fmt.Errorf("target directory %s: %w", dir, err)
	}
	return b, dir, nil
}

// enqueueMediaRestore records a directory restore and its job in one transaction.
func enqueueMediaRestore(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], req RestoreRequest) (queries.Restore, error) {
	var r queries.Restore
	_, dir, err := PlanMediaRestore(ctx, queries.New(pool), req)
	if err != nil {
		return r, err
	}
	plan, _ := json.Marshal(restorePlan{Directory: dir})
	return insertRestore(ctx, pool, client, req, queries.RestoreInsertParams{BackupID: req.BackupID, TargetKind: "directory",
		Target: dir, DryRun: req.DryRun, RequestedBy: req.RequestedBy, Details: plan})
}

// runMediaRestore extracts a media backup into the planned directory (refusing absolute paths, "..", and links
// leading outside it) and compares every restored file with the manifest. A dry run reads the archive listing
// against the manifest and writes nothing.
func runMediaRestore(ctx context.Context, d *Deps, b queries.Backup, r queries.Restore, res *restoreResult) error {
	if err := verifiable(b); err != nil {
		return err
	}
	m, err := backup.ParseManifest(b.Manifest)
	if err != nil || len(b.Manifest) == 0 {
		return fmt.Errorf("backup #%d has no readable manifest", b.ID)
	}
	a := artifactOf(d, b)
	start := time.Now()
	if r.DryRun {
		p, err := a.Open(ctx)
		if err != nil {
			return err
		}
		defer p.Close()
		res.Media, err = backup.CheckMediaArchive(p, m)
		return mediaCheckErr(res.Media, err)
	}
	if _, _, err := PlanMediaRestore(ctx, d.Q, RestoreRequest{BackupID: b.ID, TargetDir: res.Directory}); err != nil {
		return err // checked again: the worker is the last line before files are written
	}
	res.Media, err = backup.RestoreMedia(ctx, a, m, res.Directory)
	res.RestoreMS = time.Since(start).Milliseconds()
	if res.Media != nil {
		res.PlainBytes = res.Media.Bytes
	}
	return mediaCheckErr(res.Media, err)
}

func mediaCheckErr(c *backup.MediaCheck, err error) error {
	if err != nil {
		return err
	}
	if !c.OK() {
		return fmt.Errorf("%d difference(s) between the restored files and the manifest", len(c.Problems))
	}
	return nil
}
