package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/cloudinary"
)

// BackupMediaArgs is the "backup_media" job: a tar of MEDIA_ROOT (plus Cloudinary's originals when configured)
// sealed into storage. Like every backup job it carries the row id only.
type BackupMediaArgs struct {
	BackupID int64 `json:"backup_id"`
}

// Kind names the job in River.
func (BackupMediaArgs) Kind() string { return "backup_media" }

// InsertOpts: one media backup at a time, never retried (a new run gets a new row).
func (BackupMediaArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBackups, MaxAttempts: 1, UniqueOpts: activeUnique}
}

// BackupMediaWorker runs media backups.
type BackupMediaWorker struct {
	river.WorkerDefaults[BackupMediaArgs]
	D *Deps
}

// Timeout fits a large media tree or a slow Cloudinary download.
func (w *BackupMediaWorker) Timeout(*river.Job[BackupMediaArgs]) time.Duration { return BackupTimeout }

// Work tars the media. Errors end the row and cancel the job, as for database backups.
func (w *BackupMediaWorker) Work(ctx context.Context, job *river.Job[BackupMediaArgs]) error {
	d := w.D
	b, err := d.Q.BackupStart(ctx, job.Args.BackupID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	hb := startHeartbeat(ctx, d, b.ID)
	res, err := backup.DumpMedia(ctx, mediaOptions(d, b.ID, 0, b.Trigger, nil, hb.set))
	hb.stop()
	final, ferr := finishBackup(ctx, d, b, res, err)
	if ferr != nil {
		return ferr
	}
	d.afterBackup(context.WithoutCancel(ctx), final)
	if err != nil {
		return river.JobCancel(err)
	}
	return nil
}

// mediaOptions builds a media dump from configuration; Cloudinary's originals join when it is configured.
func mediaOptions(d *Deps, id, parent int64, trigger string, refs []string, progress func(done, total int64)) backup.MediaOptions {
	o := backup.MediaOptions{BackupID: id, ParentID: parent, Trigger: trigger, Root: d.Cfg.MediaRoot,
		Store: d.Store, Keys: d.Keys, References: refs, Progress: progress, Now: d.now}
	if d.Cfg.CloudinaryConfigured() {
		o.Remote = func(ctx context.Context) ([]backup.RemoteFile, error) {
			c, err := cloudinary.New(d.Cfg.CloudinaryURL)
			if err != nil {
				return nil, err
			}
			return c.Originals(ctx)
		}
	}
	return o
}

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) {
		river.AddWorker(w, &BackupMediaWorker{D: d})
	})
}
