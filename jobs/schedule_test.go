package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/queries"
)

// clock is a settable test clock for Deps.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func manilaAt(t *testing.T, s string) time.Time {
	loc, err := time.LoadLocation("Asia/Manila")
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	require.NoError(t, err)
	return v
}

// saveSchedule stores a schedule through the same validation and next-run code the form and API use.
func saveSchedule(t *testing.T, d *Deps, in schedule.Input) queries.Schedule {
	t.Helper()
	c, err := in.Validate()
	require.NoError(t, err)
	s, err := d.Q.ScheduleInsert(context.Background(), in.InsertParams(schedule.NextRun(c, in.Active, d.now())))
	require.NoError(t, err)
	return s
}

func scheduledBackups(t *testing.T, d *Deps, id int64) []queries.BackupRetentionCandidatesRow {
	rows, err := d.Q.BackupRetentionCandidates(context.Background(), &id)
	require.NoError(t, err)
	return rows
}

// The scheduler runs as a River periodic job: with its interval and the clock shortened, a daily schedule
// fires at its slot, produces a real backup with trigger "schedule", and an edit moves the next run at once.
func TestScheduleFiresAndEditTakesEffect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clk := &clock{t: manilaAt(t, "2026-11-25 01:59:00")}
	b.d.Now, b.d.TickEvery = clk.Now, 100*time.Millisecond
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}, Policy: schedule.Policy{KeepLast: 7}})
	require.True(t, manilaAt(t, "2026-11-25 02:00:00").Equal(*s.NextRunAt))
	b.startWorker(t)

	time.Sleep(500 * time.Millisecond) // several ticks before the slot: nothing runs
	require.Empty(t, scheduledBackups(t, b.d, s.ID))

	clk.Set(manilaAt(t, "2026-11-25 02:00:05"))
	var first queries.BackupRetentionCandidatesRow
	require.Eventually(t, func() bool {
		rows := scheduledBackups(t, b.d, s.ID)
		if len(rows) == 1 {
			first = rows[0]
		}
		return len(rows) == 1
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, "schedule", first.Trigger)
	done := b.waitFinal(t, first.ID)
	require.Equal(t, "succeeded", done.Status, done.Error)
	s, err := b.d.Q.ScheduleGet(context.Background(), s.ID)
	require.NoError(t, err)
	require.True(t, manilaAt(t, "2026-11-26 02:00:00").Equal(*s.NextRunAt), "moved to tomorrow's slot")

	// Edit: 03:00 today instead of 02:00 tomorrow, picked up by the running worker.
	in := schedule.FromRow(s)
	in.TimeOfDay = "03:00"
	c, err := in.Validate()
	require.NoError(t, err)
	s, err = b.d.Q.ScheduleUpdate(context.Background(), in.UpdateParams(s.ID, schedule.NextRun(c, true, clk.Now())))
	require.NoError(t, err)
	require.True(t, manilaAt(t, "2026-11-25 03:00:00").Equal(*s.NextRunAt))
	clk.Set(manilaAt(t, "2026-11-25 03:00:01"))
	require.Eventually(t, func() bool { return len(scheduledBackups(t, b.d, s.ID)) == 2 }, 10*time.Second, 50*time.Millisecond)
}

// A worker that was down over three slots starts exactly one catch-up run, however many ticks follow.
func TestScheduleCatchUpRunsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clk := &clock{t: manilaAt(t, "2026-11-22 01:00:00")}
	b.d.Now, b.d.TickEvery = clk.Now, 100*time.Millisecond
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}})
	clk.Set(manilaAt(t, "2026-11-25 09:00:00")) // the slots of the 22nd, 23rd, 24th and 25th were missed
	b.startWorker(t)
	require.Eventually(t, func() bool { return len(scheduledBackups(t, b.d, s.ID)) >= 1 }, 10*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // ten more ticks
	rows := scheduledBackups(t, b.d, s.ID)
	require.Len(t, rows, 1, "one catch-up run, not one per missed slot")
	s, err := b.d.Q.ScheduleGet(context.Background(), s.ID)
	require.NoError(t, err)
	require.True(t, manilaAt(t, "2026-11-26 02:00:00").Equal(*s.NextRunAt))
	require.True(t, clk.Now().Equal(*s.LastRunAt))
}

// Manual and paused schedules never fire.
func TestTickSkipsManualAndPaused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clk := &clock{t: manilaAt(t, "2026-11-25 01:00:00")}
	b.d.Now = clk.Now
	m := saveSchedule(t, b.d, schedule.Input{Name: "by hand", Kind: "database", Active: true, Spec: schedule.Spec{Cadence: "manual"}})
	require.Nil(t, m.NextRunAt)
	p := saveSchedule(t, b.d, schedule.Input{Name: "paused", Kind: "database", Active: false, Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}})
	clk.Set(manilaAt(t, "2026-11-30 01:00:00"))
	fired, err := Tick(context.Background(), b.d, b.insertOnly(t))
	require.NoError(t, err)
	require.Empty(t, fired)
	require.Empty(t, scheduledBackups(t, b.d, m.ID))
	require.Empty(t, scheduledBackups(t, b.d, p.ID))
}

// "Run now" while a backup of the kind is running returns that backup instead of starting another.
func TestRunNowWhileRunningReturnsRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.insertOnly(t)
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true, Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}})
	first, err := RunSchedule(context.Background(), b.d, client, s, "schedule", nil)
	require.NoError(t, err)
	require.False(t, first.Existing)
	require.Equal(t, "schedule", first.Backup.Trigger)
	_, err = b.d.Q.BackupStart(context.Background(), first.Backup.ID)
	require.NoError(t, err)
	second, err := RunSchedule(context.Background(), b.d, client, s, "schedule", nil)
	require.NoError(t, err)
	require.True(t, second.Existing)
	require.Equal(t, first.Backup.ID, second.Backup.ID)
	require.Equal(t, "running", second.Backup.Status)
	require.Len(t, scheduledBackups(t, b.d, s.ID), 1)
}

// A drill schedule queues a drill of the newest good database backup, and says so when there is none yet.
func TestDrillScheduleDrillsNewestGood(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	s := saveSchedule(t, b.d, schedule.Input{Name: "drill", Kind: "drill", Active: true, Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "05:00"}})
	_, err := RunSchedule(ctx, b.d, client, s, "schedule", nil)
	require.ErrorIs(t, err, ErrNothingToDrill)
	var ids []int64
	for _, age := range []string{"3 days", "1 day", "2 days"} {
		row, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true, Format: "x"})
		require.NoError(t, err)
		_, err = b.d.Pool.Exec(ctx, "UPDATE backups SET status = 'succeeded', storage_key = 'k', finished_at = now() - $2::interval WHERE id = $1", row.ID, age)
		require.NoError(t, err)
		ids = append(ids, row.ID)
	}
	f, err := RunSchedule(ctx, b.d, client, s, "schedule", nil)
	require.NoError(t, err)
	require.NotNil(t, f.Drill)
	require.Equal(t, "drill", f.Drill.Level)
	require.Equal(t, ids[1], f.Drill.BackupID, "the newest good backup")
}
