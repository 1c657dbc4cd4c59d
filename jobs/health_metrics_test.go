package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/recovery"
)

// The health job records what SPEC section 6 lists, measured for real: the demo clinic database's size, a
// finished backup's age, River's queue, uptime, and the monitor's verdict.
func TestCollectHealthRecordsMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.d.Started = time.Now().Add(-time.Hour)
	row, _, err := EnqueueBackup(ctx, b.d.Pool, b.insertOnly(t), b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "UPDATE backups SET status = 'succeeded', finished_at = now() - interval '2 hours' WHERE id = $1", row.ID)
	require.NoError(t, err)

	rep, err := CollectHealth(ctx, b.d)
	require.NoError(t, err)
	require.False(t, rep.Has(recovery.RuleWorkerNotRunning), "the job is the monitor")
	latest, err := b.d.Q.HealthMetricLatest(ctx)
	require.NoError(t, err)
	got := map[string]float64{}
	for _, m := range latest {
		got[m.Metric] = m.Value
	}
	require.Greater(t, got["source_db_bytes"], 1e6, "the demo clinic database is several MB")
	require.InDelta(t, 2*3600, got["last_good_backup_age_seconds_database"], 120)
	require.InDelta(t, 3600, got["worker_uptime_seconds"], 60)
	require.Equal(t, 1.0, got["river_queue_depth"], "the job enqueued above waits")
	require.Equal(t, 1.0, got["backup_success_rate_24h"])
	require.Contains(t, got, "storage_used_bytes")
	require.Contains(t, got, recovery.MetricName)

	// Now the monitor has run; a fresh evaluation no longer reports it missing.
	again, err := recovery.Evaluate(ctx, recovery.Inputs{Q: b.d.Q, Store: b.d.Store, Now: time.Now()})
	require.NoError(t, err)
	require.False(t, again.Has(recovery.RuleWorkerNotRunning))
}
