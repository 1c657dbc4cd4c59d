package schedule

import (
	"archive/zip"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// within fails the test instead of hanging it when f does not return in time: the old stepping loop spun
// forever on these inputs, and a test that hangs proves nothing.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: did not return within 5 s (unbounded loop)", what)
	}
}

func utc(s string) time.Time {
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return v
}

func inZone(t *testing.T, tz, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

// runsFrom returns the next len(want) runs of spec after local time from (in spec's zone) and compares them
// with want, given in UTC.
func runsFrom(t *testing.T, spec Spec, from string, want ...string) {
	t.Helper()
	c, err := Parse(spec)
	require.NoError(t, err)
	var got []time.Time
	within(t, fmt.Sprintf("%+v from %s", spec, from), func() { got = c.NextN(inZone(t, spec.Timezone, from), len(want)) })
	var gotS []string
	for _, g := range got {
		gotS = append(gotS, g.UTC().Format("2006-01-02 15:04"))
	}
	require.Equal(t, want, gotS, "%+v from %s (local runs: %v)", spec, from, got)
}

// Issue 18, input 1: a daily 00:30 or 00:00 schedule in a zone whose clocks jump at midnight looped forever
// from 23:30 on the eve of the change. The skipped time runs at the first instant after the gap (01:00 local);
// the doubled time runs once, at the first.
func TestMidnightGapZonesDoNotLoop(t *testing.T) {
	t.Parallel()
	// Havana: CST -5 / CDT -4; clocks go 00:00 → 01:00 on 2026-03-08 and 01:00 → 00:00 on 2026-11-01.
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:30", Timezone: "America/Havana"}, "2026-03-07 23:30",
		"2026-03-08 05:00", "2026-03-09 04:30")
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:00", Timezone: "America/Havana"}, "2026-03-07 23:30",
		"2026-03-08 05:00", "2026-03-09 04:00")
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:30", Timezone: "America/Havana"}, "2026-10-31 23:30",
		"2026-11-01 04:30", "2026-11-02 05:30") // 00:30 CDT, not again at 00:30 CST
	// Santiago: -04 / -03; 2026-09-06 00:00 → 01:00, and 2026-04-05 00:00 → Saturday 23:00.
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:30", Timezone: "America/Santiago"}, "2026-09-05 23:30",
		"2026-09-06 04:00", "2026-09-07 03:30")
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:00", Timezone: "America/Santiago"}, "2026-09-05 23:30",
		"2026-09-06 04:00", "2026-09-07 03:00")
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "23:30", Timezone: "America/Santiago"}, "2026-04-04 12:00",
		"2026-04-05 02:30", "2026-04-06 03:30") // Saturday 23:30 happens twice: once, at the first (-03)
	// Azores: -01 / +00; 2026-03-29 00:00 → 01:00.
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:30", Timezone: "Atlantic/Azores"}, "2026-03-28 23:30",
		"2026-03-29 01:00", "2026-03-30 00:30")
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "00:00", Timezone: "Atlantic/Azores"}, "2026-03-28 23:30",
		"2026-03-29 01:00", "2026-03-30 00:00")
}

// Issue 18, input 2: cron "30 1 * * *" ran twice on the fall-back day.
func TestCronRunsOnceOnFallBack(t *testing.T) {
	t.Parallel()
	// New York: 2026-11-01 02:00 EDT → 01:00 EST; 01:30 EDT is 05:30 UTC, the repeat at 01:30 EST (06:30) is skipped.
	runsFrom(t, Spec{Cadence: "cron", CronExpr: "30 1 * * *", Timezone: "America/New_York"}, "2026-10-31 12:00",
		"2026-11-01 05:30", "2026-11-02 06:30")
	// London: 2026-10-25 02:00 BST → 01:00 GMT.
	runsFrom(t, Spec{Cadence: "cron", CronExpr: "30 1 * * *", Timezone: "Europe/London"}, "2026-10-24 12:00",
		"2026-10-25 00:30", "2026-10-26 01:30")
	// Every 15 minutes across the doubled hour: the repeated readings do not run again.
	runsFrom(t, Spec{Cadence: "cron", CronExpr: "*/30 * * * *", Timezone: "America/New_York"}, "2026-11-01 00:50",
		"2026-11-01 05:00", "2026-11-01 05:30", "2026-11-01 07:00", "2026-11-01 07:30")
}

// Issue 18, input 3: weekly Sunday 00:30 in Havana ran on Saturdays around the spring change.
func TestWeeklySundayHavanaStaysOnSunday(t *testing.T) {
	t.Parallel()
	runsFrom(t, Spec{Cadence: "weekly", TimeOfDay: "00:30", Weekday: 0, Timezone: "America/Havana"}, "2026-02-20 12:00",
		"2026-02-22 05:30", "2026-03-01 05:30", "2026-03-08 05:00", "2026-03-15 04:30", "2026-03-22 04:30")
	c, err := Parse(Spec{Cadence: "weekly", TimeOfDay: "00:30", Weekday: 0, Timezone: "America/Havana"})
	require.NoError(t, err)
	for _, r := range c.NextN(inZone(t, "America/Havana", "2026-01-01 00:00"), 60) {
		require.Equal(t, time.Sunday, r.In(c.Location()).Weekday(), "%s", r.In(c.Location()))
	}
}

// Issue 18, input 4: daily 02:30 in New York ran at 01:30 on the spring-forward day. 02:30 does not exist
// that day; it runs at 03:00 EDT, the first instant after the gap.
func TestSpringForwardRunsAfterTheGap(t *testing.T) {
	t.Parallel()
	runsFrom(t, Spec{Cadence: "daily", TimeOfDay: "02:30", Timezone: "America/New_York"}, "2026-03-07 12:00",
		"2026-03-08 07:00", "2026-03-09 06:30", "2026-03-10 06:30")
	runsFrom(t, Spec{Cadence: "monthly", TimeOfDay: "02:30", DayOfMonth: 8, Timezone: "America/New_York"}, "2026-02-10 12:00",
		"2026-03-08 07:00", "2026-04-08 06:30")
	// Cron slots inside the gap (02:00, 02:30) collapse into one run at 03:00 EDT, which is also the 03:00 slot.
	runsFrom(t, Spec{Cadence: "cron", CronExpr: "*/30 * * * *", Timezone: "America/New_York"}, "2026-03-08 01:10",
		"2026-03-08 06:30", "2026-03-08 07:00", "2026-03-08 07:30")
}

// zoneNames lists every zone of the tz database Go ships (the names time.LoadLocation accepts), read from
// $GOROOT/lib/time/zoneinfo.zip, falling back to the system's tzdata.zi.
func zoneNames(t *testing.T) []string {
	t.Helper()
	var names []string
	if zr, err := zip.OpenReader(filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip")); err == nil {
		defer zr.Close()
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, "/") {
				names = append(names, f.Name)
			}
		}
	}
	require.Greater(t, len(names), 300, "the tz database's zone list (GOROOT zoneinfo.zip)")
	sort.Strings(names)
	return names
}

// oracle is the DST rule computed the slow, obvious way: scan the instants around the wall time in steps of
// step seconds and take the first whose local reading is the wall time, or else the first instant at which
// the reading jumps past it. Independent of Resolve's zone-period walk; readings are memoised per zone.
type oracle struct {
	loc   *time.Location
	step  int64
	reads map[int64]int64
}

func (o *oracle) reading(i int64) int64 {
	r, ok := o.reads[i]
	if !ok {
		_, off := time.Unix(i, 0).In(o.loc).Zone()
		r = i + int64(off)
		o.reads[i] = r
	}
	return r
}

func (o *oracle) run(y int, m time.Month, d, hh, mm int) (time.Time, bool) {
	wall := time.Date(y, m, d, hh, mm, 0, 0, time.UTC).Unix()
	lo, hi := wall-17*3600, wall+17*3600
	lo -= ((lo % o.step) + o.step) % o.step
	for i := lo; i <= hi; i += o.step {
		if o.reading(i) == wall {
			return time.Unix(i, 0).In(o.loc), true
		}
	}
	for i := lo + o.step; i <= hi; i += o.step {
		if o.reading(i) > wall && o.reading(i-o.step) < wall {
			return time.Unix(i, 0).In(o.loc), false
		}
	}
	panic("oracle: no instant")
}

// transitions lists the instants in [from, to) at which loc's UTC offset changes.
func transitions(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	for t := from.In(loc); t.Before(to); {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		_, o1 := t.Zone()
		_, o2 := end.Zone()
		if o1 != o2 {
			out = append(out, end)
		}
		t = end
	}
	return out
}

type slot struct {
	y      int
	m      time.Month
	d      int
	hh, m2 int
}

// checkRuns asserts that c, started just before the first slot, fires each slot exactly once, in order, at the
// instant the rule names (on the slot's local date unless the slot lies in a gap, where it runs at the gap's
// end), and that each Next takes at most maxSteps steps.
func checkRuns(t *testing.T, c *Cadence, slots []slot, o *oracle, maxSteps int) {
	t.Helper()
	var want []time.Time
	for _, s := range slots {
		w, exists := o.run(s.y, s.m, s.d, s.hh, s.m2)
		if y, m, d := w.Date(); exists && (y != s.y || m != s.m || d != s.d) {
			t.Fatalf("%s %+v: oracle's run %s is on the wrong local date", c.loc, s, w)
		}
		if n := len(want); n > 0 && !w.After(want[n-1]) {
			if !w.Equal(want[n-1]) {
				t.Fatalf("%s: slot %+v resolves before the previous slot", c.loc, s)
			}
			continue // several slots in one gap run once, at its end
		}
		want = append(want, w)
	}
	after := want[0].Add(-time.Second)
	for i, w := range want {
		got, steps := c.next(after)
		if !got.Equal(w) {
			t.Fatalf("%s %+v: run %d after %s: got %s, want %s", c.loc, c.Spec, i, after, got, w)
		}
		if steps > maxSteps {
			t.Fatalf("%s %+v: Next after %s took %d steps (bound %d)", c.loc, c.Spec, after, steps, maxSteps)
		}
		after = got
	}
}

// TestEveryZoneEveryTransition is the DST property: for every zone of the tz database and every offset change
// in 2025-2026, daily, weekly, monthly and cron cadences at the local times around the change fire each slot
// exactly once, in order, on the right local date, in a bounded number of steps. Zones without a change get
// the same checks on ordinary days.
func TestEveryZoneEveryTransition(t *testing.T) {
	t.Parallel()
	from, to := utc("2025-01-01 00:00"), utc("2027-01-01 00:00")
	for _, name := range zoneNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(name)
			require.NoError(t, err)
			trs := transitions(loc, from, to)
			step := int64(900) // every offset and change since 1970 is on a quarter hour; checked below
			for _, tr := range trs {
				_, o1 := tr.Add(-time.Second).Zone()
				_, o2 := tr.Zone()
				if tr.Unix()%900 != 0 || o1%900 != 0 || o2%900 != 0 {
					step = 60
				}
			}
			o := &oracle{loc: loc, step: step, reads: map[int64]int64{}}
			anchors := trs
			if len(anchors) == 0 {
				anchors = []time.Time{utc("2026-03-08 07:00"), utc("2026-11-01 06:00")}
			}
			for _, tr := range anchors {
				_, o1 := tr.Add(-time.Second).Zone()
				_, o2 := tr.Zone()
				before := tr.Add(-time.Second).In(loc)
				// Local times of day at and around the change, and the usual small hours.
				tods := map[int]bool{0: true, 30: true, 60: true, 90: true, 120: true, 150: true, 180: true, 23*60 + 30: true}
				for _, off := range []int{o1, o2, (o1 + o2) / 2} {
					for _, delta := range []int{-30, 0, 30} {
						w := tr.Add(time.Duration(off)*time.Second + time.Duration(delta)*time.Minute).UTC()
						tods[(w.Hour()*60 + w.Minute())] = true
					}
				}
				by, bm, bd := before.Date()
				for tod := range tods {
					hh, mm := tod/60, tod%60
					clock := fmt.Sprintf("%02d:%02d", hh, mm)
					// daily: the five dates around the change.
					c, err := Parse(Spec{Cadence: "daily", TimeOfDay: clock, Timezone: name})
					require.NoError(t, err)
					var slots []slot
					for k := -2; k <= 2; k++ {
						d := time.Date(by, bm, bd+k, 0, 0, 0, 0, time.UTC)
						slots = append(slots, slot{d.Year(), d.Month(), d.Day(), hh, mm})
					}
					checkRuns(t, c, slots, o, 3)
					// weekly and monthly on the change's date and the next (a midnight change moves the date).
					for k := 0; k <= 1; k++ {
						d := time.Date(by, bm, bd+k, 0, 0, 0, 0, time.UTC)
						c, err := Parse(Spec{Cadence: "weekly", TimeOfDay: clock, Weekday: int(d.Weekday()), Timezone: name})
						require.NoError(t, err)
						slots = slots[:0]
						for w := -1; w <= 1; w++ {
							dw := d.AddDate(0, 0, 7*w)
							slots = append(slots, slot{dw.Year(), dw.Month(), dw.Day(), hh, mm})
						}
						checkRuns(t, c, slots, o, 3)
						c, err = Parse(Spec{Cadence: "monthly", TimeOfDay: clock, DayOfMonth: d.Day(), Timezone: name})
						require.NoError(t, err)
						slots = slots[:0]
						for w := -1; w <= 1; w++ {
							dm := time.Date(d.Year(), d.Month()+time.Month(w), 1, 0, 0, 0, 0, time.UTC)
							last := time.Date(dm.Year(), dm.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
							slots = append(slots, slot{dm.Year(), dm.Month(), min(d.Day(), last), hh, mm})
						}
						checkRuns(t, c, slots, o, 3)
					}
					// cron at the same time each day.
					c, err = Parse(Spec{Cadence: "cron", CronExpr: fmt.Sprintf("%d %d * * *", mm, hh), Timezone: name})
					require.NoError(t, err)
					slots = slots[:0]
					for k := -2; k <= 2; k++ {
						d := time.Date(by, bm, bd+k, 0, 0, 0, 0, time.UTC)
						slots = append(slots, slot{d.Year(), d.Month(), d.Day(), hh, mm})
					}
					checkRuns(t, c, slots, o, 6)
				}
				// cron every half hour (and quarter past, for :45 zones) across the three days around the change.
				for _, expr := range []string{"*/30 * * * *", "15,45 * * * *"} {
					c, err := Parse(Spec{Cadence: "cron", CronExpr: expr, Timezone: name})
					require.NoError(t, err)
					var slots []slot
					mins := []int{0, 30}
					if strings.HasPrefix(expr, "15") {
						mins = []int{15, 45}
					}
					for k := -1; k <= 1; k++ {
						d := time.Date(by, bm, bd+k, 0, 0, 0, 0, time.UTC)
						for h := range 24 {
							for _, mi := range mins {
								slots = append(slots, slot{d.Year(), d.Month(), d.Day(), h, mi})
							}
						}
					}
					checkRuns(t, c, slots, o, 20)
				}
			}
		})
	}
}

// The zone list is the whole database, not a sample.
func TestZoneListIsComplete(t *testing.T) {
	t.Parallel()
	names := zoneNames(t)
	for _, z := range []string{"America/Havana", "America/Santiago", "Atlantic/Azores", "Asia/Manila", "Pacific/Chatham", "Australia/Lord_Howe", "America/Nuuk"} {
		require.True(t, slices.Contains(names, z), z)
	}
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	require.Len(t, transitions(ny, utc("2025-01-01 00:00"), utc("2027-01-01 00:00")), 4, "the property walks real changes")
}
