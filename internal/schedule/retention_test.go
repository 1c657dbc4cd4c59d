package schedule

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// history builds one backup a day at 02:00 Manila for 60 days from Sunday 2026-09-27 (id = day number), failed
// on the days listed.
func history(t *testing.T, failed ...int64) []Item {
	var items []Item
	day1 := manila(t, "2026-09-27 02:00")
	for d := int64(1); d <= 60; d++ {
		items = append(items, Item{ID: d, At: day1.AddDate(0, 0, int(d-1)), Origin: Scheduled, Good: !slices.Contains(failed, d)})
	}
	return items
}

func kept(ds []Decision) []int64 {
	var ids []int64
	for _, d := range ds {
		if d.Keep {
			ids = append(ids, d.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestPlanSixtyDailyBackups(t *testing.T) {
	t.Parallel()
	items := history(t, 20, 33, 56, 57, 58, 59, 60) // the last five days all failed
	items[9].Proven, items[29].Proven = true, true  // days 10 and 30; 30 is the newest drilled
	items[14].InUse = true                          // day 15 is being verified
	now := manila(t, "2026-11-25 09:00")
	p := Policy{KeepLast: 3, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 3}
	ds := Plan(p, items, now, items[0].At.Location())

	require.Len(t, ds, 53, "only the 53 good backups are candidates; failed rows hold nothing to prune")
	// last 3 and daily 7: days 49-55 (the five failed days do not use up daily slots);
	// weekly 4 (ISO weeks, Mon-Sun): W47 → 55, W46 → 50, W45 → 43, W44 → 36;
	// monthly 3: November → 55, October → 35 (Oct 31), September → 4 (Sep 30);
	// newest drilled → 30; in use → 15.
	require.Equal(t, []int64{4, 15, 30, 35, 36, 43, 49, 50, 51, 52, 53, 54, 55}, kept(ds))
	require.Equal(t, int64(55), ds[0].ID)
	require.Contains(t, ds[0].Reasons, "newest good")
}

// max_age_days adds to the buckets, it does not cut them: after a month of failures every good backup is older
// than the age limit, and the seven daily ones, the newest good and the newest proven all stay.
func TestPlanAgeLimitAddsToTheBuckets(t *testing.T) {
	t.Parallel()
	var failed []int64
	for d := int64(31); d <= 60; d++ {
		failed = append(failed, d)
	}
	items := history(t, failed...)
	items[4].Proven = true
	now := manila(t, "2026-11-25 09:00")
	ds := Plan(Policy{KeepDaily: 7, MaxAgeDays: 14}, items, now, time.UTC)
	require.Equal(t, []int64{5, 24, 25, 26, 27, 28, 29, 30}, kept(ds))
	// Age alone: the newest good and the newest proven survive; the rest is older than 14 days.
	ds = Plan(Policy{MaxAgeDays: 14}, items, now, time.UTC)
	require.Equal(t, []int64{5, 30}, kept(ds))
}

// Issue 18: {"cadence":"manual","max_age_days":30} with every keep_* at 0, run four times, pruned the three
// older backups, seconds old. max_age_days alone keeps everything younger than that.
func TestMaxAgeAloneKeepsEverythingYounger(t *testing.T) {
	t.Parallel()
	now := manila(t, "2026-11-25 09:00")
	var items []Item
	for i := range 4 {
		items = append(items, Item{ID: int64(i + 1), At: now.Add(time.Duration(i-4) * 10 * time.Second), Origin: Manual, Good: true})
	}
	items = append(items, Item{ID: 9, At: now.AddDate(0, 0, -31), Origin: Manual, Good: true})
	p := Policy{MaxAgeDays: 30}
	require.NoError(t, p.Validate())
	require.Equal(t, []int64{1, 2, 3, 4}, kept(Plan(p, items, now, time.UTC)), "the 31-day-old one goes, the four new ones stay")
}

// A policy whose meaning is "keep only the newest" is refused, naming the field, unless it says keep_last: 1.
func TestPolicyRefusesKeepOnlyTheNewest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p     Policy
		field string
	}{
		{Policy{KeepDaily: 1}, "keep_daily"},
		{Policy{KeepWeekly: 1}, "keep_weekly"},
		{Policy{KeepMonthly: 1}, "keep_monthly"},
		{Policy{KeepDaily: 1, KeepWeekly: 1, KeepMonthly: 1}, "keep_daily"},
	} {
		var errs Errors
		require.ErrorAs(t, tc.p.Validate(), &errs, "%+v", tc.p)
		require.Contains(t, errs.Field(tc.field), "keep_last: 1", "%+v: %v", tc.p, errs)
	}
	for _, p := range []Policy{{KeepLast: 1}, {KeepLast: 1, KeepDaily: 1}, {KeepDaily: 1, MaxAgeDays: 7}, {KeepDaily: 2},
		{KeepDaily: 1, KeepMonthly: 2}, {}, {MaxAgeDays: 30}} {
		require.NoError(t, p.Validate(), "%+v", p)
	}
	_, err := DecodePolicy([]byte(`{"keep_weekly":1}`))
	require.ErrorContains(t, err, "keep_weekly")
}

// Issue 18: three "Run now" presses on the nightly schedule pruned backups within seconds. Manual runs are
// counted apart: the scheduled backups kept are exactly those kept without the presses, and the presses
// themselves are kept by the same words (here: one per day, so the newest press of today).
func TestRunNowDoesNotPushScheduledHistoryOut(t *testing.T) {
	t.Parallel()
	now := manila(t, "2026-11-25 09:00")
	var nightly []Item
	for d := range 40 {
		nightly = append(nightly, Item{ID: int64(d + 1), At: manila(t, "2026-11-25 02:00").AddDate(0, 0, -d), Origin: Scheduled, Good: true})
	}
	for _, p := range []Policy{{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}, {KeepLast: 3}, {KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}} {
		before := kept(Plan(p, nightly, now, time.UTC))
		items := slices.Clone(nightly)
		for i := range 3 {
			items = append(items, Item{ID: int64(100 + i), At: now.Add(time.Duration(i) * 5 * time.Second), Origin: Manual, Good: true})
		}
		after := kept(Plan(p, items, now.Add(time.Minute), time.UTC))
		var scheduledAfter []int64
		for _, id := range after {
			if id < 100 {
				scheduledAfter = append(scheduledAfter, id)
			}
		}
		require.Equal(t, before, scheduledAfter, "%+v: the presses pushed scheduled backups out", p)
		require.Contains(t, after, int64(102), "%+v: the newest press stays", p)
	}
}

func TestPlanOffKeepsEverything(t *testing.T) {
	t.Parallel()
	ds := Plan(Policy{}, history(t, 3), manila(t, "2026-11-25 09:00"), time.UTC)
	require.Len(t, kept(ds), 59)
	require.Len(t, ds, 59, "the failed one is not counted")
}

// FuzzDecodePolicy: decoding never panics, and a decoded policy is valid and survives a round trip.
func FuzzDecodePolicy(f *testing.F) {
	f.Add([]byte(`{"keep_last":7,"keep_daily":7,"keep_weekly":4,"keep_monthly":6,"max_age_days":0}`))
	f.Add([]byte(`{"keep_last":-1}`))
	f.Add([]byte(`{"keep_daily":1e99}`))
	f.Add([]byte(`{"bogus":1}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePolicy(data)
		if err != nil {
			return
		}
		require.NoError(t, p.Validate())
		enc, err := json.Marshal(p)
		require.NoError(t, err)
		again, err := DecodePolicy(enc)
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}
