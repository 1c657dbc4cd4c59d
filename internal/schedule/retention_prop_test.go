package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// randomHistory builds a schedule's catalog as it really grows: scheduled runs with runs of several in one day,
// gaps of minutes to months, "Run now" presses, uploads, failures, corrupt (failed verification) backups,
// proven ones and a few in use.
func randomHistory(r *rand.Rand, now time.Time) []Item {
	n := r.IntN(120)
	at := now.Add(-time.Duration(r.IntN(24*400)) * time.Hour)
	var items []Item
	for i := range n {
		switch g := r.IntN(20); {
		case g < 8:
			at = at.Add(time.Duration(r.IntN(90)) * time.Minute) // a run within the same day
		case g < 17:
			at = at.Add(time.Duration(20+r.IntN(30)) * time.Hour)
		case g < 19:
			at = at.Add(time.Duration(r.IntN(21)) * 24 * time.Hour)
		default:
			at = at.AddDate(0, 1+r.IntN(4), 0) // a gap of months
		}
		it := Item{ID: int64(i + 1), At: at, Origin: Scheduled, Good: true}
		switch o := r.IntN(10); {
		case o < 2:
			it.Origin = Manual
		case o < 3:
			it.Origin = Upload
		}
		switch s := r.IntN(20); {
		case s < 3:
			it.Good = false // failed or cancelled
		case s < 4:
			it.Good = false // corrupt: a verification failed
		case s < 6:
			it.Proven = true
		}
		it.InUse = r.IntN(40) == 0
		if r.IntN(60) == 0 {
			it.Pinned = "newest good database backup"
		}
		if r.IntN(30) == 0 && len(items) > 0 {
			it.At = items[len(items)-1].At // same instant as the previous one: ties break by id
		}
		items = append(items, it)
	}
	return items
}

func randomPolicy(r *rand.Rand) Policy {
	pick := func() int {
		if r.IntN(3) == 0 {
			return 0
		}
		return r.IntN(9)
	}
	for {
		p := Policy{KeepLast: pick(), KeepDaily: pick(), KeepWeekly: pick(), KeepMonthly: pick()}
		if r.IntN(3) == 0 {
			p.MaxAgeDays = 1 + r.IntN(90)
		}
		if p.Validate() == nil {
			return p
		}
	}
}

// inBuckets is the keep_* union computed independently of Plan: for each origin apart, the newest KeepLast, and
// per period kind, the distinct periods sorted newest first, the first n of them, the newest item of each.
func inBuckets(p Policy, items []Item, loc *time.Location) map[int64]bool {
	in := map[int64]bool{}
	for _, pool := range [][]Item{filter(items, Scheduled), filter(items, Manual)} {
		sort.Slice(pool, func(i, j int) bool { return newer(pool[i], pool[j]) })
		for i := 0; i < p.KeepLast && i < len(pool); i++ {
			in[pool[i].ID] = true
		}
		for _, b := range []struct {
			n   int
			key func(time.Time) string
		}{
			{p.KeepDaily, func(t time.Time) string { return t.In(loc).Format("2006-01-02") }},
			{p.KeepWeekly, func(t time.Time) string { y, w := t.In(loc).ISOWeek(); return fmt.Sprintf("%04d-%02d", y, w) }},
			{p.KeepMonthly, func(t time.Time) string { return t.In(loc).Format("2006-01") }},
		} {
			best := map[string]Item{}
			for _, it := range pool {
				k := b.key(it.At)
				if cur, ok := best[k]; !ok || newer(it, cur) {
					best[k] = it
				}
			}
			keys := make([]string, 0, len(best))
			for k := range best {
				keys = append(keys, k)
			}
			sort.Sort(sort.Reverse(sort.StringSlice(keys))) // the formats sort chronologically
			for _, k := range keys[:min(b.n, len(keys))] {
				in[best[k].ID] = true
			}
		}
	}
	return in
}

func filter(items []Item, o Origin) []Item {
	var out []Item
	for _, it := range items {
		if it.Counted() && it.Origin == o {
			out = append(out, it)
		}
	}
	return out
}

// TestRetentionProperties checks the policy's promises on thousands of random histories and policies: never
// the newest good or the newest proven backup, never anything younger than max_age_days, nothing in use or
// pinned, exactly the union of the keep_* buckets otherwise; not-good backups and uploads never decided on and
// never the reason a good one goes; the same answer whatever the input order and on a second pass.
func TestRetentionProperties(t *testing.T) {
	t.Parallel()
	zones := []string{"Asia/Manila", "America/New_York", "America/Santiago", "Australia/Lord_Howe", "UTC"}
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 18))
		loc, err := time.LoadLocation(zones[r.IntN(len(zones))])
		require.NoError(t, err)
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, loc).Add(time.Duration(r.IntN(24*60)) * time.Minute)
		items := randomHistory(r, now)
		p := randomPolicy(r)
		ds := Plan(p, items, now, loc)
		byID := map[int64]Item{}
		var counted []Item
		for _, it := range items {
			byID[it.ID] = it
			if it.Counted() {
				counted = append(counted, it)
			}
		}
		msg := func(d Decision) string {
			return fmt.Sprintf("seed %d, policy %+v, %s, item %+v: %v", seed, p, loc, byID[d.ID], d.Reasons)
		}
		require.Len(t, ds, len(counted), "seed %d: one decision per counted item", seed)

		var newest, newestProven *Item
		for i, it := range counted {
			if newest == nil || newer(it, *newest) {
				newest = &counted[i]
			}
			if it.Proven && (newestProven == nil || newer(it, *newestProven)) {
				newestProven = &counted[i]
			}
		}
		limit := now.AddDate(0, 0, -p.MaxAgeDays)
		buckets := inBuckets(p, items, loc)
		for _, d := range ds {
			it := byID[d.ID]
			require.True(t, it.Counted(), msg(d))
			require.Equal(t, d.Keep, len(d.Reasons) > 0, msg(d))
			guaranteed := it.ID == newest.ID || (newestProven != nil && it.ID == newestProven.ID) || it.InUse || it.Pinned != ""
			young := p.MaxAgeDays > 0 && !it.At.Before(limit)
			switch {
			case p.Off(), guaranteed, young:
				require.True(t, d.Keep, "must keep: "+msg(d))
			default:
				require.Equal(t, buckets[it.ID], d.Keep, "exactly the keep_* union: "+msg(d))
			}
		}

		// Not-good backups and uploads change nothing for the others.
		require.Equal(t, ds, Plan(p, counted, now, loc), "seed %d: uncounted items changed a decision", seed)
		// Input order does not matter.
		shuffled := slices.Clone(items)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		require.Equal(t, ds, Plan(p, shuffled, now, loc), "seed %d: order changed the answer", seed)
		// A second pass after pruning prunes nothing more.
		var left []Item
		for _, it := range items {
			if i := slices.IndexFunc(ds, func(d Decision) bool { return d.ID == it.ID }); i < 0 || ds[i].Keep {
				left = append(left, it)
			}
		}
		for _, d := range Plan(p, left, now, loc) {
			require.True(t, d.Keep, "seed %d: second pass prunes %s", seed, msg(d))
		}
	}
}
