package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// putObject publishes a small artifact and its manifest, as a finished backup leaves them.
func putObject(t *testing.T, st storage.Store, key string) {
	t.Helper()
	for _, k := range []string{key, storage.ManifestKey(key)} {
		w, err := st.Create(context.Background(), k)
		require.NoError(t, err)
		_, err = w.Write([]byte("x"))
		require.NoError(t, err)
		require.NoError(t, w.Commit())
	}
}

// Retention on a built history of 60 daily backups (the last five failed, two more failed in between) prunes
// exactly what the policy says, deletes artifact and manifest, keeps the rows, and never touches the newest
// good, the newest drilled or one in use.
func TestRetentionOnSixtyDailyBackups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.d.Now = func() time.Time { return manilaAt(t, "2026-11-25 09:00:00") }
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}, Policy: schedule.Policy{KeepLast: 3, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 3}})
	failed := []int64{20, 33, 56, 57, 58, 59, 60}
	day1 := manilaAt(t, "2026-09-27 02:00:00")
	keys := map[int64]string{}
	for d := int64(1); d <= 60; d++ {
		row, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "schedule", ScheduleID: &s.ID, Encrypted: true, Format: "x"})
		require.NoError(t, err)
		require.Equal(t, d, row.ID, "ids follow the days")
		at := day1.AddDate(0, 0, int(d-1))
		status, key := "succeeded", fmt.Sprintf("database/day-%02d.dump.zst.age", d)
		if slices.Contains(failed, d) {
			status, key = "failed", ""
		} else {
			putObject(t, b.d.Store, key)
			keys[d] = key
		}
		_, err = b.d.Pool.Exec(ctx, `UPDATE backups SET status = $2, storage_key = $3, queued_at = $4::timestamptz, started_at = $4::timestamptz,
			finished_at = $4::timestamptz + interval '3 minutes' WHERE id = $1`, d, status, key, at)
		require.NoError(t, err)
	}
	_, err := b.d.Pool.Exec(ctx, `INSERT INTO verifications (backup_id, level, status, finished_at) VALUES
		(10, 'drill', 'succeeded', now()), (30, 'drill', 'succeeded', now()), (15, 'checksum', 'running', NULL)`)
	require.NoError(t, err)

	plan, err := PlanRetention(ctx, b.d, s.ID)
	require.NoError(t, err)
	require.Len(t, plan.Prunes(), 53-13)

	pruned, err := ApplyRetention(ctx, b.d, s.ID)
	require.NoError(t, err)
	require.Len(t, pruned, 40)
	want := []int64{4, 15, 30, 35, 36, 43, 49, 50, 51, 52, 53, 54, 55} // see internal/schedule TestPlanSixtyDailyBackups
	for d := int64(1); d <= 60; d++ {
		row, err := b.d.Q.BackupGet(ctx, d)
		require.NoError(t, err, "rows are kept as history")
		key, good := keys[d]
		switch {
		case !good:
			require.Nil(t, row.PrunedAt, "day %d: failed rows hold nothing to prune", d)
		case slices.Contains(want, d):
			require.Nil(t, row.PrunedAt, "day %d kept", d)
			require.FileExists(t, filepath.Join(b.dir, key))
		default:
			require.NotNil(t, row.PrunedAt, "day %d pruned", d)
			require.NoFileExists(t, filepath.Join(b.dir, key))
			require.NoFileExists(t, filepath.Join(b.dir, storage.ManifestKey(key)))
		}
	}
	// Every deletion is audited, naming the backup, its schedule and the policy.
	var audited int
	require.NoError(t, b.d.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'retention.prune' AND actor = 'retention'
		AND (details->>'schedule_id')::bigint = $1 AND details->'policy'->>'keep_daily' = '7'`, s.ID).Scan(&audited))
	require.Equal(t, 40, audited)
	// A second pass finds nothing more to do.
	again, err := ApplyRetention(ctx, b.d, s.ID)
	require.NoError(t, err)
	require.Empty(t, again)
}

// insertBackup stores a finished top-level backup of schedule sid with its artifact.
func insertBackup(t *testing.T, b *testBundle, sid int64, trigger, status string, at time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	row, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: trigger, ScheduleID: &sid, Encrypted: true, Format: "x"})
	require.NoError(t, err)
	key := fmt.Sprintf("database/%d.dump.zst.age", row.ID)
	putObject(t, b.d.Store, key)
	_, err = b.d.Pool.Exec(ctx, `UPDATE backups SET status = $2, storage_key = $3, queued_at = $4, started_at = $4, finished_at = $4
		WHERE id = $1`, row.ID, status, key, at)
	require.NoError(t, err)
	return row.ID
}

// Issue 18: a manual schedule with only max_age_days 30, run four times seconds apart, pruned the three older
// runs. Now nothing younger than 30 days goes; a 40-day-old one does, and that deletion is audited.
func TestRetentionMaxAgeAloneThroughTheCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	now := manilaAt(t, "2026-11-25 09:00:00")
	b.d.Now = func() time.Time { return now }
	s := saveSchedule(t, b.d, schedule.Input{Name: "by hand", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "manual"}, Policy: schedule.Policy{MaxAgeDays: 30}})
	old := insertBackup(t, b, s.ID, "manual", "succeeded", now.AddDate(0, 0, -40))
	for i := range 4 {
		insertBackup(t, b, s.ID, "manual", "succeeded", now.Add(time.Duration(i-4)*10*time.Second))
	}
	pruned, err := ApplyRetention(ctx, b.d, s.ID)
	require.NoError(t, err)
	require.Len(t, pruned, 1)
	require.Equal(t, old, pruned[0].ID)
	var n int
	require.NoError(t, b.d.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'retention.prune' AND target = $1`,
		fmt.Sprintf("backup:%d", old)).Scan(&n))
	require.Equal(t, 1, n)
}

// "Run now" presses are stored as manual runs and counted apart: with one per day kept, three presses today
// leave the nightly backups exactly as they were, a corrupt (failed verification) backup is neither counted
// nor deleted, and an upload is never touched.
func TestRetentionRunNowAndNotGoodThroughTheCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	now := manilaAt(t, "2026-11-25 09:00:00")
	b.d.Now = func() time.Time { return now }
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}, Policy: schedule.Policy{KeepDaily: 3}})
	var nightly []int64
	for d := 5; d >= 0; d-- {
		nightly = append(nightly, insertBackup(t, b, s.ID, "schedule", "succeeded", manilaAt(t, "2026-11-25 02:00:00").AddDate(0, 0, -d)))
	}
	// The newest nightly's verification failed: it is not good, so it neither fills today's bucket nor goes.
	_, err := b.d.Pool.Exec(ctx, `INSERT INTO verifications (backup_id, level, status, finished_at) VALUES ($1, 'archive', 'failed', now())`, nightly[5])
	require.NoError(t, err)
	upload := insertBackup(t, b, s.ID, "upload", "succeeded", now.AddDate(0, 0, -30))
	var presses []int64
	for i := range 3 {
		presses = append(presses, insertBackup(t, b, s.ID, "manual", "succeeded", now.Add(time.Duration(i)*5*time.Second)))
	}
	plan, err := PlanRetention(ctx, b.d, s.ID)
	require.NoError(t, err)
	var prunedIDs []int64
	for _, d := range plan.Prunes() {
		prunedIDs = append(prunedIDs, d.ID)
	}
	slices.Sort(prunedIDs)
	// Nightly buckets: days -1, -2, -3 (today's is corrupt). Pruned: days -5, -4 and the two older presses.
	require.Equal(t, []int64{nightly[0], nightly[1], presses[0], presses[1]}, prunedIDs)
	require.NotContains(t, prunedIDs, upload)
}

// The reconciler fails a backup row whose River job was deleted; the dry run lists it without changing it.
func TestReconcileFailsRowWhoseJobWasDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	row, _, err := EnqueueBackup(ctx, b.d.Pool, b.insertOnly(t), b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "DELETE FROM river_job WHERE id = $1", *row.JobID)
	require.NoError(t, err)

	stuck, err := FindStuck(ctx, b.d, time.Hour)
	require.NoError(t, err)
	require.Len(t, stuck, 1)
	still, err := b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "queued", still.Status, "the dry run changes nothing")

	fixed, err := Reconcile(ctx, b.d, time.Hour)
	require.NoError(t, err)
	require.Len(t, fixed, 1)
	got, err := b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.Contains(t, got.Error, "job is gone")
	require.NotNil(t, got.FinishedAt)
}

// A running row silent for longer than the timeout is failed with the time of its last heartbeat.
func TestReconcileTimeoutWithoutHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	row, _, err := EnqueueBackup(ctx, b.d.Pool, b.insertOnly(t), b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "UPDATE backups SET status = 'running', started_at = now() - interval '2 hours' WHERE id = $1", row.ID)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '2 hours' WHERE id = $1", *row.JobID)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "INSERT INTO job_leases (job_id, holder, heartbeat_at) VALUES ($1, 'w:1', now() - interval '40 minutes')", *row.JobID)
	require.NoError(t, err)
	stuck, err := FindStuck(ctx, b.d, time.Hour)
	require.NoError(t, err)
	require.Empty(t, stuck, "40 minutes of silence is within a one-hour timeout")
	// Until the server has been up for the grace period nothing is judged: its workers may still be
	// reconnecting after a restart. (The test server started minutes ago; the default grace is the stale period.)
	b.d.RestartGrace = 1000 * time.Hour
	stuck, err = FindStuck(ctx, b.d, 30*time.Minute)
	require.NoError(t, err)
	require.Empty(t, stuck, "a server up for less than the grace period judges no lease")
	b.d.RestartGrace = -1
	fixed, err := Reconcile(ctx, b.d, 30*time.Minute)
	require.NoError(t, err)
	require.Len(t, fixed, 1)
	require.Contains(t, fixed[0].Reason, "no heartbeat from w:1 since")
}
