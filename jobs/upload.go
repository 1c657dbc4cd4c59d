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
	Type      string           // backup.UploadDump, UploadSealed or UploadLegacy
	Manifest  *backup.Manifest // for UploadSealed
	MaxBytes  int64
	CreatedBy *int64
	Store     storage.Store
	Keys      *crypt.Keys
	PGRestore string
}

// Upload validates and stores an uploaded file (see backup.Ingest), then records it as a finished backup with
// trigger "upload" and queues checksum and archive verifications, row and jobs in one transaction. Nothing is
// recorded or left in storage when the file is refused.
func Upload(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], r io.Reader, req UploadRequest) (queries.Backup, error) {
	q := queries.New(pool)
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
