package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/queries"
)

func TestBackupDatabaseJobSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var hooked []queries.Backup
	b.d.AfterBackup = append(b.d.AfterBackup, func(_ context.Context, row queries.Backup) { hooked = append(hooked, row) })
	client := b.startWorker(t)

	row, existing, err := EnqueueBackup(context.Background(), b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	require.False(t, existing)
	require.NotNil(t, row.JobID, "the row and its job are created together")

	done := b.waitFinal(t, row.ID)
	require.Equal(t, "succeeded", done.Status, done.Error)
	require.NotEmpty(t, done.Sha256)
	require.NotNil(t, done.DurationMs)
	require.Equal(t, done.BytesRead, done.ProgressBytes)
	require.FileExists(t, filepath.Join(b.dir, done.StorageKey))
	m, err := backup.ParseManifest(done.Manifest)
	require.NoError(t, err)
	require.NotEmpty(t, m.Tables)
	require.Eventually(t, func() bool { return len(hooked) == 1 }, 5*time.Second, 20*time.Millisecond)
}

// A second request while one is queued returns the first instead of starting a parallel dump.
func TestBackupRequestWhileQueuedReturnsFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.insertOnly(t) // nothing works the queue, so the first stays queued
	first, existing, err := EnqueueBackup(context.Background(), b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	require.False(t, existing)
	second, existing, err := EnqueueBackup(context.Background(), b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "api"})
	require.NoError(t, err)
	require.True(t, existing)
	require.Equal(t, first.ID, second.ID)
	n, err := b.d.Q.BackupCount(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// A bad source ends the row failed with pg's message and the password redacted; nothing is published.
func TestBackupDatabaseJobFailsCleanly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Cfg.Source = dbconn.MustParse("postgres://clinic:hunter2-secret@127.0.0.1:1/pis")
	client := b.startWorker(t)
	row, _, err := EnqueueBackup(context.Background(), b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	require.NotContains(t, row.SourceRedacted, "hunter2-secret")
	done := b.waitFinal(t, row.ID)
	require.Equal(t, "failed", done.Status)
	require.Contains(t, done.Error, "connect to source database")
	require.NotContains(t, done.Error, "hunter2-secret")
	entries, _ := os.ReadDir(b.dir)
	for _, e := range entries {
		require.Equal(t, ".tmp", e.Name(), "nothing but the temp dir may exist")
	}
}

// A worker killed mid-dump stops heartbeating; the reconciler fails its row instead of leaving it running.
func TestReconcileFailsDeadAndOrphanedBackups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	row, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	_, err = b.d.Q.BackupStart(ctx, row.ID)
	require.NoError(t, err)
	// Its River job is still "running": the killed worker never reported back, and its lease was last renewed
	// ten minutes ago.
	_, err = b.d.Pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour' WHERE id = $1", *row.JobID)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "INSERT INTO job_leases (job_id, holder, heartbeat_at) VALUES ($1, 'worker-a:42', now() - interval '10 minutes')", *row.JobID)
	require.NoError(t, err)

	// A second row whose job vanished from River (deleted by hand, say).
	orphan, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "media", Trigger: "manual", Encrypted: true})
	require.NoError(t, err)
	missingJob := int64(987654321)
	require.NoError(t, b.d.Q.BackupSetJob(ctx, queries.BackupSetJobParams{ID: orphan.ID, JobID: &missingJob}))

	fixed, err := Reconcile(ctx, b.d, HeartbeatStale)
	require.NoError(t, err)
	require.Len(t, fixed, 2)
	dead, err := b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", dead.Status)
	require.Contains(t, dead.Error, "no heartbeat from worker-a:42")
	gone, err := b.d.Q.BackupGet(ctx, orphan.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", gone.Status)
	require.Contains(t, gone.Error, "gone from the queue")

	again, err := Reconcile(ctx, b.d, HeartbeatStale)
	require.NoError(t, err)
	require.Empty(t, again, "a second pass changes nothing")

	// The dead job no longer blocks the per-kind uniqueness: a new backup can start at once.
	next, existing, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	require.False(t, existing)
	require.NotEqual(t, row.ID, next.ID)
}
