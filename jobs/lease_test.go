package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/queries"
)

// killJob makes job id look like a job whose process died: running, last renewed 10 minutes ago on the
// database's clock.
func killJob(t *testing.T, d *Deps, id int64, kind string) {
	t.Helper()
	ctx := context.Background()
	_, err := d.Pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour' WHERE id = $1", id)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO job_leases (job_id, kind, holder, heartbeat_at) VALUES ($1, $2, 'dead-host:4242', now() - interval '10 minutes')
		ON CONFLICT (job_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, holder = EXCLUDED.holder`, id, kind)
	require.NoError(t, err)
}

func jobState(t *testing.T, d *Deps, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, d.Pool.QueryRow(context.Background(), "SELECT state::text FROM river_job WHERE id = $1", id).Scan(&s))
	return s
}

// Heartbeat age is judged on the database's clock: a worker whose clock runs two minutes fast (or slow) never
// makes the reconciler fail a live job, and a dead one is found whatever the worker clocks say.
func TestLeaseJudgedOnDatabaseClock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.d.Now = func() time.Time { return time.Now().Add(2 * time.Minute) } // this worker's clock is fast
	row, _, err := EnqueueBackup(ctx, b.d.Pool, b.insertOnly(t), b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	_, err = b.d.Q.BackupStart(ctx, row.ID)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1", *row.JobID)
	require.NoError(t, err)
	require.NoError(t, b.d.Q.LeaseAcquireJob(ctx, queries.LeaseAcquireJobParams{JobID: *row.JobID, Kind: "backup_database", Holder: "live:1"}))

	fixed, err := Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Empty(t, fixed, "a live job is not failed because a worker's clock is fast")
	b.d.Now = func() time.Time { return time.Now().Add(-2 * time.Minute) } // or slow
	fixed, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Empty(t, fixed)
	got, err := b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "running", got.Status)

	killJob(t, b.d, *row.JobID, "backup_database")
	fixed, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Len(t, fixed, 1)
	got, err = b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.Contains(t, got.Error, "worker stopped: no heartbeat from dead-host:4242 since")
	require.Equal(t, "discarded", jobState(t, b.d, *row.JobID), "the dead job releases its unique key at once")
}

// A job a CLI process queued on its private queue and never ran (the process was killed) is ended once the
// queue's lease is stale; later backups of that kind no longer "join" it. A live CLI process's queue is left alone.
func TestReconcileEndsJobOnDeadPrivateQueue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	row, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "cli", Queue: "cli_deadhost_77"})
	require.NoError(t, err)
	require.NoError(t, b.d.Q.LeaseAcquireQueue(ctx, queries.LeaseAcquireQueueParams{Queue: "cli_deadhost_77", Holder: "deadhost:77"}))

	fixed, err := Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Empty(t, fixed, "the CLI process is alive: its queued job waits")

	_, err = b.d.Pool.Exec(ctx, "UPDATE job_leases SET heartbeat_at = now() - interval '5 minutes' WHERE queue = 'cli_deadhost_77'")
	require.NoError(t, err)
	stuck, err := FindStuck(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Len(t, stuck, 1, "cleanup-stuck-backups --dry-run sees it")
	require.Equal(t, row.ID, stuck[0].ID)

	fixed, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Len(t, fixed, 1)
	got, err := b.d.Q.BackupGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.Contains(t, got.Error, "the command that queued it (deadhost:77) stopped before running it")

	next, existing, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "api"})
	require.NoError(t, err)
	require.False(t, existing, "a new backup no longer joins the dead one")
	require.NotEqual(t, row.ID, next.ID)
}

// A retention pass whose worker died is ended and queued again, so that schedule's pruning does not stop.
func TestReconcileRequeuesDeadRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	res, err := client.Insert(ctx, RetentionArgs{ScheduleID: 42}, nil)
	require.NoError(t, err)
	killJob(t, b.d, res.Job.ID, "retention")

	// A second pass for that schedule cannot even be queued while the dead one holds the unique key.
	dup, err := client.Insert(ctx, RetentionArgs{ScheduleID: 42}, nil)
	require.NoError(t, err)
	require.True(t, dup.UniqueSkippedAsDuplicate)

	fixed, err := Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Len(t, fixed, 1)
	require.Equal(t, "retention", fixed[0].What)
	require.Equal(t, "discarded", jobState(t, b.d, res.Job.ID))
	again, err := client.Insert(ctx, RetentionArgs{ScheduleID: 42}, nil)
	require.NoError(t, err)
	require.False(t, again.UniqueSkippedAsDuplicate, "the dead pass no longer blocks the schedule's retention")
}

// A scheduler tick whose worker died no longer blocks every later tick.
func TestReconcileEndsDeadTick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	res, err := client.Insert(ctx, ScheduleTickArgs{}, nil)
	require.NoError(t, err)
	killJob(t, b.d, res.Job.ID, "schedule_tick")
	dup, err := client.Insert(ctx, ScheduleTickArgs{}, nil)
	require.NoError(t, err)
	require.True(t, dup.UniqueSkippedAsDuplicate, "while the dead tick is 'running', no tick can be queued")
	_, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	again, err := client.Insert(ctx, ScheduleTickArgs{}, nil)
	require.NoError(t, err)
	require.False(t, again.UniqueSkippedAsDuplicate)
}

// The scheduler's claim and its enqueue are one transaction: when the enqueue fails after the claim, the slot
// is still due and the next tick runs it.
func TestTickClaimAndEnqueueAreAtomic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	clk := &clock{t: manilaAt(t, "2026-11-25 01:59:00")}
	b.d.Now = clk.Now
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}, Policy: schedule.Policy{KeepLast: 7}})
	clk.Set(manilaAt(t, "2026-11-25 02:00:05"))
	_, err := b.d.Pool.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'insert refused by test'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON backups FOR EACH ROW EXECUTE FUNCTION refuse();`)
	require.NoError(t, err)
	client := b.insertOnly(t)
	fired, err := Tick(ctx, b.d, client)
	require.NoError(t, err)
	require.Empty(t, fired)
	got, err := b.d.Q.ScheduleGet(ctx, s.ID)
	require.NoError(t, err)
	require.True(t, s.NextRunAt.Equal(*got.NextRunAt), "the failed run's claim was rolled back: the slot is still due")

	_, err = b.d.Pool.Exec(ctx, "DROP TRIGGER refuse ON backups")
	require.NoError(t, err)
	fired, err = Tick(ctx, b.d, client)
	require.NoError(t, err)
	require.Len(t, fired, 1)
	require.Len(t, scheduledBackups(t, b.d, s.ID), 1)
}

// Temporary files follow their owner's liveness, not their age: a live backup that has waited an hour (on a
// lock, say) keeps its file; a dead one's file goes at once.
func TestTempCleanupFollowsOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	live, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "manual"})
	require.NoError(t, err)
	_, err = b.d.Q.BackupStart(ctx, live.ID)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1", *live.JobID)
	require.NoError(t, err)
	require.NoError(t, b.d.Q.LeaseAcquireJob(ctx, queries.LeaseAcquireJobParams{JobID: *live.JobID, Kind: "backup_database", Holder: "w:1"}))
	dead, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "media", Trigger: "manual", Encrypted: true})
	require.NoError(t, err)
	_, err = b.d.Q.BackupFail(ctx, queries.BackupFailParams{ID: dead.ID, Status: "failed", Error: "x"})
	require.NoError(t, err)

	tmp := filepath.Join(b.dir, ".tmp")
	require.NoError(t, os.MkdirAll(tmp, 0o750))
	liveFile := filepath.Join(tmp, "0011223344556677-database_2026_11_30_database-20261130T000000Z-"+itoa(live.ID)+".dump.zst.age")
	deadFile := filepath.Join(tmp, "8899aabbccddeeff-media_2026_11_30_media-20261130T000000Z-"+itoa(dead.ID)+".tar.zst.age")
	for _, f := range []string{liveFile, deadFile} {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o600))
	}
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(liveFile, old, old))

	_, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.FileExists(t, liveFile, "a live backup's file is kept however old")
	require.NoFileExists(t, deadFile, "a finished backup's leftover goes at once")
}
