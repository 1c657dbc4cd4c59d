package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// An operator cancels a running backup: pg_dump stops within seconds, nothing is published, the temporary file
// is removed, and the row says who cancelled.
func TestCancelRunningBackup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.d.Cfg.PGClients.BinDir = testdb.SlowPGDumpDir(t, "0.05")
	client := b.startWorker(t)
	row, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := b.d.Q.BackupGet(ctx, row.ID)
		return err == nil && r.Status == "running" && r.ProgressBytes > 0
	}, 30*time.Second, 20*time.Millisecond)

	asked := time.Now()
	out, err := CancelWork(ctx, b.d, WorkBackup, row.ID, "alice@clinic.test")
	require.NoError(t, err)
	require.Equal(t, CancelRequested, out)
	done := b.waitFinal(t, row.ID)
	require.Less(t, time.Since(asked), 5*time.Second, "the dump must stop within seconds")
	require.Equal(t, "cancelled", done.Status)
	require.Equal(t, "cancelled by alice@clinic.test", done.Error)
	require.Empty(t, done.StorageKey)
	entries, _ := os.ReadDir(filepath.Join(b.dir, ".tmp"))
	require.Empty(t, entries, "the temporary file is removed")

	_, err = CancelWork(ctx, b.d, WorkBackup, row.ID, "alice@clinic.test")
	require.ErrorIs(t, err, ErrNotInFlight)
}

// A backup queued on a CLI process's queue that nothing works is cancelled at once, and its job is gone.
func TestCancelQueuedBackup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	row, _, err := EnqueueBackup(ctx, b.d.Pool, b.insertOnly(t), b.d.Cfg, BackupRequest{Kind: "database", Trigger: "cli", Queue: "cli_gone_1"})
	require.NoError(t, err)
	out, err := CancelWork(ctx, b.d, WorkBackup, row.ID, "bob")
	require.NoError(t, err)
	require.Equal(t, CancelDone, out)
	got, err := b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "cancelled", got.Status)
	require.Equal(t, "cancelled by bob", got.Error)
	require.Equal(t, "cancelled", jobState(t, b.d, *row.JobID))
}

// A running drill and a running restore show bytes restored of the total, and are cancelled: pg_restore stops, the drill's scratch database and the
// restore's new target are dropped, each row says who cancelled.
func TestCancelRunningDrillAndRestoreWithProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.startWorker(t)
	good := b.backupNow(t, client)
	b.d.Cfg.PGClients.BinDir = testdb.SlowPGRestoreDir(t, "0.2")

	v, err := EnqueueVerification(ctx, b.d.Pool, client, VerifyRequest{BackupID: good.ID, Level: "drill"})
	require.NoError(t, err)
	g := NewGuard(b.d.Cfg, b.d.Q)
	inst, err := g.Installation(ctx)
	require.NoError(t, err)
	scratch := backup.ScratchName(inst, v.ID)
	require.Eventually(t, func() bool {
		got, err := b.d.Q.VerificationGet(ctx, v.ID)
		// The drill shows how far it is: bytes restored of the backup's plain size.
		return err == nil && got.Status == "running" && b.databaseExists(t, scratch) &&
			got.ProgressBytes > 0 && got.ProgressTotal == good.BytesRead
	}, 60*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	asked := time.Now()
	_, err = CancelWork(ctx, b.d, WorkVerification, v.ID, "carol")
	require.NoError(t, err)
	v = b.waitVerification(t, v.ID)
	require.Less(t, time.Since(asked), 10*time.Second)
	require.Equal(t, "cancelled", v.Status)
	require.Equal(t, "cancelled by carol", v.Error)
	require.False(t, b.databaseExists(t, scratch), "the scratch database is dropped")

	target := b.restoreTarget(t)
	r, err := EnqueueRestore(ctx, b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: good.ID, TargetDB: target})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := b.d.Q.RestoreGet(ctx, r.ID)
		return err == nil && got.Status == "running" && b.databaseExists(t, target) &&
			got.ProgressBytes > 0 && got.ProgressTotal == good.BytesRead
	}, 60*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	_, err = CancelWork(ctx, b.d, WorkRestore, r.ID, "carol")
	require.NoError(t, err)
	var got queries.Restore = b.waitRestore(t, r.ID)
	require.Equal(t, "cancelled", got.Status)
	require.Equal(t, "cancelled by carol", got.Error)
	require.False(t, b.databaseExists(t, target), "the partial database the restore created is dropped")
}
