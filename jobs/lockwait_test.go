package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/queries"
)

// A backup waits on a lock far longer than the heartbeat timeout (LOCK TABLE patients_patient IN ACCESS
// EXCLUSIVE MODE held elsewhere): its lease says what it waits for, the reconciler keeps its live temporary
// file however old, and once the lock is released the backup publishes.
func TestBackupWaitingOnLockIsShownAndKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.d.Cfg.HeartbeatTimeout = 2 * time.Second
	holder, err := b.d.Cfg.Source.Connect(ctx)
	require.NoError(t, err)
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE patients_patient IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	client := b.startWorker(t)
	row, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	var lease queries.JobLease
	require.Eventually(t, func() bool {
		lease, err = b.d.Q.LeaseGetJob(ctx, *row.JobID)
		return err == nil && lease.WaitingFor != ""
	}, 30*time.Second, 50*time.Millisecond, "the wait never showed")
	require.Equal(t, "a lock on patients_patient", lease.WaitingFor)

	tmp := filepath.Join(b.dir, ".tmp")
	entries, _ := os.ReadDir(tmp)
	require.NotEmpty(t, entries, "the backup's temporary file exists while it waits")
	old := time.Now().Add(-time.Hour)
	for _, e := range entries {
		require.NoError(t, os.Chtimes(filepath.Join(tmp, e.Name()), old, old)) // far older than the timeout
	}
	time.Sleep(2500 * time.Millisecond) // longer than the heartbeat timeout
	fixed, err := Reconcile(ctx, b.d, b.d.Cfg.HeartbeatTimeout)
	require.NoError(t, err)
	require.Empty(t, fixed, "a live backup waiting on a lock is not dead")
	after, _ := os.ReadDir(tmp)
	require.Len(t, after, len(entries), "its temporary file is kept")

	require.NoError(t, tx.Rollback(ctx))
	done := b.waitFinal(t, row.ID)
	require.Equal(t, "succeeded", done.Status, done.Error)
}
