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
	// A second pass finds nothing more to do.
	again, err := ApplyRetention(ctx, b.d, s.ID)
	require.NoError(t, err)
	require.Empty(t, again)
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
	fixed, err := Reconcile(ctx, b.d, 30*time.Minute)
	require.NoError(t, err)
	require.Len(t, fixed, 1)
	require.Contains(t, fixed[0].Reason, "no heartbeat from w:1 since")
}
