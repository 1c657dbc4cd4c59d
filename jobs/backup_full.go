package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// BackupFullArgs is the "backup_full" job: one recovery point made of a database child and a media child
// (linked by parent_id), taken side by side, plus the check that every media path the database references
// exists in the media set.
type BackupFullArgs struct {
	BackupID int64 `json:"backup_id"`
}

// Kind names the job in River.
func (BackupFullArgs) Kind() string { return "backup_full" }

// InsertOpts: one full backup at a time, never retried.
func (BackupFullArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBackups, MaxAttempts: 1, UniqueOpts: activeUnique}
}

// BackupFullWorker runs full backups. The children run inside this job rather than as jobs of their own so a
// full backup never waits for queue slots, and so the pair is taken at the same moment.
type BackupFullWorker struct {
	river.WorkerDefaults[BackupFullArgs]
	D *Deps
}

// Timeout fits the slower of the two children.
func (w *BackupFullWorker) Timeout(*river.Job[BackupFullArgs]) time.Duration { return BackupTimeout }

// Work takes both children and records the recovery point.
func (w *BackupFullWorker) Work(ctx context.Context, job *river.Job[BackupFullArgs]) error {
	d := w.D
	b, err := d.Q.BackupStart(ctx, job.Args.BackupID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	var warnings []string
	var refs []string
	var alias func(string) []string
	fc, refErr := backup.ReadFileColumns(ctx, d.Cfg.Source, d.Cfg.FileColumns)
	if refErr != nil {
		warnings = append(warnings, "media references not checked: "+d.Cfg.ScrubErr(refErr))
	} else {
		refs, alias = fc.Paths(d.Cfg.FileColumns), remoteAlias(d.Cfg, fc)
		if len(fc.Missing) > 0 {
			warnings = append(warnings, fmt.Sprintf("media references not checked for %s: no such column in the clinic database (MEDIA_REFERENCE_COLUMNS)",
				strings.Join(fc.Missing, ", ")))
		}
	}
	dbRow, err1 := startChild(ctx, d, b, "database")
	mediaRow, err2 := startChild(ctx, d, b, "media")
	if err := errors.Join(err1, err2); err != nil {
		_, _ = finishBackup(ctx, d, b, nil, err)
		return river.JobCancel(err)
	}
	var wg sync.WaitGroup
	var dbRes, mediaRes *backup.Result
	var dbErr, mediaErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		hb := startHeartbeat(ctx, d, dbRow.ID)
		defer hb.stop()
		dbRes, dbErr = backup.DumpDatabase(ctx, backup.DumpOptions{AllDigests: d.Cfg.ContentDigests, BackupID: dbRow.ID, ParentID: b.ID, Trigger: b.Trigger,
			Source: d.Cfg.Source, Clients: d.Cfg.PGClients, Store: d.Store, Keys: d.Keys, Progress: hb.set, Now: d.now,
			Waiting: func(w string) { setWaiting(ctx, w) }})
	}()
	go func() {
		defer wg.Done()
		hb := startHeartbeat(ctx, d, mediaRow.ID)
		defer hb.stop()
		o := mediaOptions(d, mediaRow.ID, b.ID, b.Trigger, refs, hb.set)
		o.RemoteAlias = alias
		mediaRes, mediaErr = backup.DumpMedia(ctx, o)
	}()
	hb := startHeartbeat(ctx, d, b.ID) // the parent heartbeats too, so the reconciler leaves it alone
	wg.Wait()
	hb.stop()
	dbFinal, ferr1 := finishBackup(ctx, d, dbRow, dbRes, dbErr)
	mediaFinal, ferr2 := finishBackup(ctx, d, mediaRow, mediaRes, mediaErr)
	if err := errors.Join(ferr1, ferr2); err != nil {
		return err
	}
	d.afterBackup(context.WithoutCancel(ctx), dbFinal)
	d.afterBackup(context.WithoutCancel(ctx), mediaFinal)

	res, runErr := fullResult(b, dbRes, mediaRes, dbErr, mediaErr, warnings, refErr == nil)
	final, ferr := finishBackup(ctx, d, b, res, runErr)
	if ferr != nil {
		return ferr
	}
	d.afterBackup(context.WithoutCancel(ctx), final)
	if runErr != nil {
		return river.JobCancel(runErr)
	}
	return nil
}

// startChild records and claims one child row. It shares the parent's job id so the reconciler fails it too
// if this job dies.
func startChild(ctx context.Context, d *Deps, parent queries.Backup, kind string) (queries.Backup, error) {
	row, err := d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: kind, Trigger: parent.Trigger, ParentID: &parent.ID,
		CreatedBy: parent.CreatedBy, Encrypted: !d.Cfg.Unencrypted, SourceRedacted: sourceOf(d, kind), Format: formatOf(kind)})
	if err != nil {
		return row, fmt.Errorf("record %s part: %w", kind, err)
	}
	if parent.JobID != nil {
		if err := d.Q.BackupSetJob(ctx, queries.BackupSetJobParams{ID: row.ID, JobID: parent.JobID}); err != nil {
			return row, err
		}
	}
	return d.Q.BackupStart(ctx, row.ID)
}

func sourceOf(d *Deps, kind string) string {
	if kind == "media" {
		return d.Cfg.MediaRoot
	}
	return d.Cfg.Source.String()
}

// fullResult sums the children into the parent's manifest: failed when either child failed, warning when
// either warned or a referenced file is missing.
func fullResult(b queries.Backup, db, media *backup.Result, dbErr, mediaErr error, warnings []string, checked bool) (*backup.Result, error) {
	if dbErr != nil || mediaErr != nil {
		var errs []error
		if dbErr != nil {
			errs = append(errs, fmt.Errorf("database part failed: %w", dbErr))
		}
		if mediaErr != nil {
			errs = append(errs, fmt.Errorf("media part failed: %w", mediaErr))
		}
		return nil, errors.Join(errs...)
	}
	m := &backup.Manifest{FormatVersion: backup.FormatVersion, Tool: "pisbackup", BackupID: b.ID, Kind: "full",
		Trigger: b.Trigger, Format: "recovery-point", StartedAt: db.Manifest.StartedAt, FinishedAt: time.Now().UTC(),
		Encrypted: db.Manifest.Encrypted && media.Manifest.Encrypted, RecipientsFingerprint: db.Manifest.RecipientsFingerprint,
		Compression: "zstd", PgDumpVersion: db.Manifest.PgDumpVersion, ServerVersion: db.Manifest.ServerVersion,
		Database: db.Manifest.Database, PlainBytes: db.Manifest.PlainBytes + media.Manifest.PlainBytes,
		StoredBytes: db.Manifest.StoredBytes + media.Manifest.StoredBytes, Tables: db.Manifest.Tables,
		FileCount: media.Manifest.FileCount, Unreadable: media.Manifest.Unreadable, Missing: media.Manifest.Missing,
		Restore: fmt.Sprintf("restore the database part (%s) and the media part (%s) separately", db.Key, media.Key)}
	m.Warnings = append(m.Warnings, warnings...)
	for _, w := range db.Manifest.Warnings {
		m.Warnings = append(m.Warnings, "database: "+w)
	}
	for _, w := range media.Manifest.Warnings {
		m.Warnings = append(m.Warnings, "media: "+w)
	}
	status := "succeeded"
	if len(m.Warnings) > 0 || !checked {
		status = "warning"
	}
	return &backup.Result{Manifest: m, Status: status}, nil
}

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) {
		river.AddWorker(w, &BackupFullWorker{D: d})
	})
}
