package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

func rules(r Report) map[string]string {
	out := map[string]string{}
	for _, p := range r.Problems {
		out[p.Rule] = p.Subject
	}
	return out
}

// The rules follow the newest outcome per subject: a failed scheduled backup is critical until the next
// success; a failed drill is reported by level; a stale schedule by id; a missing monitor run by "worker".
func TestEvaluateRules(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.Catalog(t)
	q := queries.New(pool)
	ctx := context.Background()
	s, err := q.ScheduleInsert(ctx, queries.ScheduleInsertParams{Name: "nightly", Kind: "database", Cadence: "daily", TimeOfDay: "02:00",
		DayOfMonth: 1, Timezone: "Asia/Manila", Active: true, VerifyLevel: "checksum"})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "UPDATE schedules SET created_at = now() - interval '5 days'")
	require.NoError(t, err)
	backup := func(status, age string) queries.Backup {
		b, err := q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "schedule", ScheduleID: &s.ID, Encrypted: true, Format: "x"})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, "UPDATE backups SET status = $2, finished_at = now() - $3::interval, error = 'pg_dump: boom' WHERE id = $1", b.ID, status, age)
		require.NoError(t, err)
		return b
	}
	good := backup("succeeded", "50 hours")
	backup("failed", "1 hour")
	_, err = pool.Exec(ctx, "INSERT INTO verifications (backup_id, level, status, finished_at, error) VALUES ($1, 'drill', 'failed', now(), 'row counts differ')", good.ID)
	require.NoError(t, err)

	r, err := Evaluate(ctx, q, nil, time.Now())
	require.NoError(t, err)
	require.Equal(t, StatusCritical, r.Status)
	require.Equal(t, 2, r.Code())
	got := rules(r)
	subject := fmt.Sprintf("schedule:%d", s.ID)
	require.Equal(t, map[string]string{RuleBackupFailed: subject, RuleBackupStale: subject,
		RuleVerificationFailed: "level:drill", RuleMonitorNotRunning: "worker"}, got)
	require.InDelta(t, 0.5, r.Stats.SuccessRate7d, 0.001)
	require.InDelta(t, 0.0, r.Stats.SuccessRate24h, 0.001)

	backup("succeeded", "5 minutes")
	_, err = q.HealthMetricInsert(ctx, queries.HealthMetricInsertParams{Metric: MetricName, Value: 0, Unit: "level"})
	require.NoError(t, err)
	r, err = Evaluate(ctx, q, nil, time.Now())
	require.NoError(t, err)
	require.Equal(t, map[string]string{RuleVerificationFailed: "level:drill"}, rules(r), "a success clears failed and stale")
	require.Equal(t, StatusCritical, r.Without(RuleBackupStale).Status)
	require.Equal(t, StatusOK, r.Without(RuleVerificationFailed).Status)
}
