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
		items = append(items, Item{ID: d, At: day1.AddDate(0, 0, int(d-1)), Good: !slices.Contains(failed, d)})
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
	items := history(t, 20, 33, 56, 57, 58, 59, 60)  // the last five days all failed
	items[9].Drilled, items[29].Drilled = true, true // days 10 and 30; 30 is the newest drilled
	items[14].InUse = true                           // day 15 is being verified
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

func TestPlanAgeLimitNeverTakesTheLastGood(t *testing.T) {
	t.Parallel()
	var failed []int64
	for d := int64(31); d <= 60; d++ {
		failed = append(failed, d) // a month of failures: every good backup is older than the age limit
	}
	items := history(t, failed...)
	items[4].Drilled = true
	now := manila(t, "2026-11-25 09:00")
	ds := Plan(Policy{KeepDaily: 7, MaxAgeDays: 14}, items, now, time.UTC)
	require.Equal(t, []int64{5, 30}, kept(ds), "the newest good and the newest drilled survive age-only pruning")
}

func TestPlanOffKeepsEverything(t *testing.T) {
	t.Parallel()
	ds := Plan(Policy{}, history(t, 3), manila(t, "2026-11-25 09:00"), time.UTC)
	require.Len(t, kept(ds), 59)
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
