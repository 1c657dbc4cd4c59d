package jobs

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// UploadRequest is one uploaded backup file.
type UploadRequest struct {
	Filename  string
	Type      string           // backup.UploadDump, UploadSealed, UploadLegacy, UploadLegacyJSON or UploadLegacyZip
	Manifest  *backup.Manifest // for UploadSealed
	MaxBytes  int64
	CreatedBy *int64
	Store     storage.Store
	Keys      *crypt.Keys
	PGRestore string
	TempDir   string // where a zip is spooled, sealed; "" is os.TempDir()
}

// Upload validates and stores an uploaded file (see backup.Ingest), then records it as a finished backup with
// trigger "upload" and queues checksum and archive verifications, row and jobs in one transaction. Nothing is
// recorded or left in storage when the file is refused. A full_backup zip becomes a full backup's three rows
// (see uploadFullZip); the parent is returned.
func Upload(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], r io.Reader, req UploadRequest) (queries.Backup, error) {
	q := queries.New(pool)
	if req.Type == backup.UploadLegacyZip {
		return uploadFullZip(ctx, pool, client, r, req)
	}
	id, err := q.BackupNextID(ctx)
	if err != nil {
		return queries.Backup{}, err
	}
	res, err := backup.Ingest(ctx, r, backup.IngestOptions{BackupID: id, Type: req.Type, Filename: req.Filename,
		Store: req.Store, Keys: req.Keys, PGRestore: req.PGRestore, MaxBytes: req.MaxBytes, Manifest: req.Manifest})
	if err != nil {
		return queries.Backup{}, err
	}
	var b queries.Backup
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		b, err = queries.New(tx).BackupInsertComplete(ctx, completeParams(id, res.Manifest, "upload", req.CreatedBy))
		if err != nil {
			return err
		}
		for _, level := range []string{"checksum", "archive"} {
			if _, err := EnqueueVerificationTx(ctx, tx, client, VerifyRequest{BackupID: b.ID, Level: level, CreatedBy: req.CreatedBy}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The catalog refused the row: remove the objects so storage holds nothing the catalog does not know.
		dctx := context.WithoutCancel(ctx)
		_ = storage.DeleteArtifact(dctx, req.Store, res.Key)
		return b, fmt.Errorf("record upload: %w", err)
	}
	return b, nil
}

// uploadFullZip stores the old system's full_backup zip as pisbackup stores a full backup: a parent row (no
// object of its own) and its database and media parts, each verified by checksum and archive like any upload.
// Rows and jobs commit together; when the catalog refuses them, the stored parts are removed.
func uploadFullZip(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], r io.Reader, req UploadRequest) (queries.Backup, error) {
	q := queries.New(pool)
	var ids backup.FullUploadIDs
	for _, id := range []*int64{&ids.Parent, &ids.Database, &ids.Media} {
		var err error
		if *id, err = q.BackupNextID(ctx); err != nil {
			return queries.Backup{}, err
		}
	}
	up, err := backup.IngestFullZip(ctx, r, backup.IngestOptions{Type: req.Type, Filename: req.Filename, Store: req.Store,
		Keys: req.Keys, MaxBytes: req.MaxBytes, TempDir: req.TempDir}, ids)
	if err != nil {
		return queries.Backup{}, err
	}
	var parent queries.Backup
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		qt := queries.New(tx)
		if parent, err = qt.BackupInsertComplete(ctx, completeParams(ids.Parent, up.Parent, "upload", req.CreatedBy)); err != nil {
			return err
		}
		for _, part := range []*backup.Result{up.Database, up.Media} {
			p := completeParams(part.Manifest.BackupID, part.Manifest, "upload", req.CreatedBy)
			p.ParentID = &parent.ID
			child, err := qt.BackupInsertComplete(ctx, p)
			if err != nil {
				return err
			}
			for _, level := range []string{"checksum", "archive"} {
				if _, err := EnqueueVerificationTx(ctx, tx, client, VerifyRequest{BackupID: child.ID, Level: level, CreatedBy: req.CreatedBy}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		dctx := context.WithoutCancel(ctx)
		for _, k := range up.Keys() {
			_ = req.Store.Delete(dctx, k)
		}
		return parent, fmt.Errorf("record upload: %w", err)
	}
	return parent, nil
}

// completeParams turns a manifest into a finished backups row.
func completeParams(id int64, m *backup.Manifest, trigger string, createdBy *int64) queries.BackupInsertCompleteParams {
	status := "succeeded"
	if len(m.Warnings) > 0 && trigger != "upload" {
		status = "warning"
	}
	finished := m.FinishedAt
	if finished.IsZero() {
		finished = m.StartedAt
	}
	dur := finished.Sub(m.StartedAt).Milliseconds()
	return queries.BackupInsertCompleteParams{
		ID: id, Kind: m.Kind, Status: status, Trigger: trigger, CreatedBy: createdBy, StartedAt: m.StartedAt,
		FinishedAt: &finished, DurationMs: &dur, BytesRead: m.PlainBytes, BytesStored: m.StoredBytes, Sha256: m.SHA256,
		StorageKey: m.ArtifactKey, Encrypted: m.Encrypted, RecipientsFingerprint: m.RecipientsFingerprint,
		PgDumpVersion: m.PgDumpVersion, ServerVersion: m.ServerVersion, SourceRedacted: m.Source, Format: m.Format,
		Manifest: m.JSON(), Warnings: append([]string{}, m.Warnings...),
	}
}
