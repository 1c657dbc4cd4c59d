package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// The catalog goes away mid-backup and comes back after the artifact was published: the worker keeps trying
// to record the outcome until it can, so the row ends "succeeded" with its artifact instead of being failed as
// "its job ended as discarded" with the valid artifact orphaned in storage.
func TestCatalogOutageDuringBackupRecordsOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	proxy := testdb.NewProxy(t)
	pool, err := pgxpool.New(ctx, proxy.URL(b.catalog))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	direct := b.d.Q
	b.d.Pool, b.d.Q = pool, queries.New(pool)
	slow := testdb.SlowPGDumpDir(t, "0.02")
	b.d.Cfg.PGClients.BinDir = slow
	client := b.startWorker(t)
	row, _, err := EnqueueBackup(ctx, pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := direct.BackupGet(ctx, row.ID)
		return err == nil && r.Status == "running" && r.ProgressBytes > 0
	}, 30*time.Second, 20*time.Millisecond)

	proxy.Cut()
	// Storage gets the published artifact while the catalog is still away.
	require.Eventually(t, func() bool {
		objs, err := b.d.Store.List(ctx, "database/")
		return err == nil && len(objs) >= 2 // artifact and manifest
	}, 60*time.Second, 100*time.Millisecond, "the dump never published")
	time.Sleep(3 * time.Second)
	r, err := direct.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "running", r.Status, "nothing could record the outcome yet")
	proxy.Restore()

	require.Eventually(t, func() bool {
		r, err = direct.BackupGet(ctx, row.ID)
		return err == nil && r.Status != "running"
	}, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, "succeeded", r.Status, r.Error)
	require.NotEmpty(t, r.StorageKey)
	_, err = b.d.Store.Stat(ctx, r.StorageKey)
	require.NoError(t, err)
}
