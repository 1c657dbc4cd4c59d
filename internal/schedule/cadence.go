// Package schedule turns a schedule row's cadence into run times and its retention policy into keep/prune
// decisions. It is pure: no database, no clock of its own, so the scheduler job, the schedule form's preview
// and the tests all share exactly the same arithmetic.
package schedule

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a schedule's cadence as stored (the schedules table's columns).
type Spec struct {
	Cadence    string `json:"cadence"`     // daily, weekly, monthly, cron or manual
	TimeOfDay  string `json:"time_of_day"` // HH:MM, local to Timezone (daily/weekly/monthly)
	Weekday    int    `json:"weekday"`     // 0 = Sunday … 6 = Saturday (weekly)
	DayOfMonth int    `json:"day_of_month"`
	CronExpr   string `json:"cron_expr"` // five fields or a descriptor such as @daily (cron)
	Timezone   string `json:"timezone"`  // IANA name; empty means DefaultTimezone
}

// DefaultTimezone is the clinic's zone, used when a schedule names none.
const DefaultTimezone = "Asia/Manila"

// Cadence is a validated Spec that can compute run times.
type Cadence struct {
	Spec
	loc          *time.Location
	hour, minute int
	cron         cron.Schedule
}

// Parse validates s and returns its Cadence, or Errors naming every bad field.
func Parse(s Spec) (*Cadence, error) {
	c := &Cadence{Spec: s}
	var errs Errors
	if c.Timezone == "" {
		c.Timezone = DefaultTimezone
	}
	loc, err := loadLocation(c.Timezone)
	if err != nil {
		errs.add("timezone", "%s", err)
	}
	c.loc = loc
	switch s.Cadence {
	case "manual":
	case "daily", "weekly", "monthly":
		c.hour, c.minute, err = parseClock(s.TimeOfDay)
		if err != nil {
			errs.add("time_of_day", "%s", err)
		}
		if s.Cadence == "weekly" && (s.Weekday < 0 || s.Weekday > 6) {
			errs.add("weekday", "weekday must be 0 (Sunday) to 6 (Saturday), got %d", s.Weekday)
		}
		if s.Cadence == "monthly" && (s.DayOfMonth < 1 || s.DayOfMonth > 31) {
			errs.add("day_of_month", "day of month must be 1 to 31, got %d", s.DayOfMonth)
		}
	case "cron":
		if c.cron, err = parseCron(s.CronExpr); err != nil {
			errs.add("cron_expr", "%s", err)
		}
	default:
		errs.add("cadence", "cadence must be daily, weekly, monthly, cron or manual, got %q", s.Cadence)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if s.Cadence == "cron" && c.Next(time.Now()).IsZero() {
		return nil, Errors{{Field: "cron_expr", Message: fmt.Sprintf("cron expression %q never fires (no such date)", s.CronExpr)}}
	}
	return c, nil
}

// Location is the zone run times are computed in.
func (c *Cadence) Location() *time.Location { return c.loc }

// Next is the first run strictly after after, or the zero time for a manual schedule (it never fires) and for
// a cron expression with no date in the next eight years. Run times follow the DST rule (see Resolve): a slot
// whose local time does not exist runs at the first instant after the gap, a slot whose local time happens
// twice runs once, at the first. Next takes a bounded number of steps for every zone and cadence.
func (c *Cadence) Next(after time.Time) time.Time {
	t, _ := c.next(after)
	return t
}

// Step bounds: how many candidate slots Next may try. At most 3 are needed (the slot before, on and after
// after's local date, week or month); the property test over every zone asserts exactly that bound.
const (
	maxCandidates = 6
	// maxCronDays covers "0 0 29 2 *": February 29th can be eight years away (2096 → 2104).
	maxCronDays = 8*366 + 2
)

// next is Next plus the number of steps it took (candidate dates and Resolve calls), for the bound tests.
func (c *Cadence) next(after time.Time) (time.Time, int) {
	y, m, d := after.In(c.loc).Date()
	steps := 0
	// Candidates are enumerated by civil date, never by re-reading the date of a resolved instant: a slot in
	// a gap at midnight resolves onto another clock reading, and deriving the next candidate from it is what
	// made the old stepping loop forever in America/Havana.
	first := func(cand func(k int) time.Time) time.Time {
		for k := range maxCandidates {
			steps++
			if r := cand(k); r.After(after) {
				return r
			}
		}
		return time.Time{}
	}
	switch c.Cadence {
	case "daily":
		return first(func(k int) time.Time { return Resolve(c.loc, y, m, d-1+k, c.hour, c.minute) }), steps
	case "weekly":
		back := (int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) - c.Weekday + 7) % 7
		return first(func(k int) time.Time { return Resolve(c.loc, y, m, d-back-7+7*k, c.hour, c.minute) }), steps
	case "monthly":
		return first(func(k int) time.Time {
			my, mm := y, m-1+time.Month(k)
			last := time.Date(my, mm+1, 0, 0, 0, 0, 0, time.UTC).Day()
			return Resolve(c.loc, my, mm, min(c.DayOfMonth, last), c.hour, c.minute)
		}), steps
	case "cron":
		if spec, ok := c.cron.(*cron.SpecSchedule); ok {
			return c.cronNext(spec, after)
		}
		return c.cron.Next(after), 1 // @every: a fixed delay, no wall clock involved
	}
	return time.Time{}, 0
}

// starBit marks a cron field written as "*" (robfig/cron's own constant, unexported there).
const starBit = 1 << 63

// cronNext walks civil dates from the day before after's, and on the first matching date with a slot after
// after picks that slot by binary search (Resolve is non-decreasing in the wall time, so the slots' run times
// are sorted). robfig/cron's own Next steps local time hour by hour and so repeats or skips runs on DST days;
// only its parser and field bit sets are used here.
func (c *Cadence) cronNext(s *cron.SpecSchedule, after time.Time) (time.Time, int) {
	hours, mins := bitList(s.Hour, 0, 23), bitList(s.Minute, 0, 59)
	n := len(hours) * len(mins)
	if n == 0 {
		return time.Time{}, 0
	}
	slot := func(y int, m time.Month, d, i int) time.Time {
		return Resolve(c.loc, y, m, d, hours[i/len(mins)], mins[i%len(mins)])
	}
	y, m, d := after.In(c.loc).Date()
	steps := 0
	for k := -1; k < maxCronDays; k++ {
		steps++
		day := time.Date(y, m, d+k, 0, 0, 0, 0, time.UTC)
		if s.Month&(1<<uint(day.Month())) == 0 || !cronDayMatches(s, day) {
			continue
		}
		dy, dm, dd := day.Date()
		if !slot(dy, dm, dd, n-1).After(after) {
			steps++
			continue
		}
		i := sort.Search(n, func(i int) bool { steps++; return slot(dy, dm, dd, i).After(after) })
		return slot(dy, dm, dd, i), steps
	}
	return time.Time{}, steps
}

// cronDayMatches is cron's day rule: day-of-month and day-of-week both must match when either is "*",
// otherwise either may.
func cronDayMatches(s *cron.SpecSchedule, day time.Time) bool {
	dom := s.Dom&(1<<uint(day.Day())) != 0
	dow := s.Dow&(1<<uint(day.Weekday())) != 0
	if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

func bitList(bits uint64, lo, hi int) []int {
	var out []int
	for v := lo; v <= hi; v++ {
		if bits&(1<<uint(v)) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// Resolve is the instant at which the local wall time y-m-d hh:mm (normalised like time.Date, so day 32 is
// the 1st of the next month) happens in loc, by the scheduler's DST rule:
//   - a wall time that happens once is that instant;
//   - a wall time that happens twice (clocks go back) is the first of the two;
//   - a wall time that does not happen (clocks go forward over it) is the first instant after the gap, i.e.
//     the moment of the change (02:30 on New York's spring-forward day runs at 03:00 EDT).
//
// time.Date leaves both cases unspecified ("the choice of time zone ... is not guaranteed"). Resolve walks
// loc's zone periods (time.Time.ZoneBounds) across the 34 hours in which the instant must lie, at most
// maxSpans of them, so it always ends.
func Resolve(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
	wall := time.Date(y, m, d, hh, mm, 0, 0, time.UTC).Unix() // the wall reading as if it were UTC
	// UTC offsets lie within ±16 h, so the instant is within [wall-16h, wall+16h].
	const reach = 17 * 3600
	t := time.Unix(wall-reach, 0).In(loc)
	for range maxSpans {
		start, end := t.ZoneBounds()
		_, off := t.Zone()
		cand := wall - int64(off)
		if !start.IsZero() && cand < start.Unix() {
			return start // the wall time fell in the gap before this period: run when the period begins
		}
		if end.IsZero() || cand < end.Unix() {
			return time.Unix(cand, 0).In(loc)
		}
		if end.Unix() > wall+reach {
			break
		}
		t = end.In(loc)
	}
	return time.Date(y, m, d, hh, mm, 0, 0, loc) // unreachable with real tz data; never loop for bad data
}

// maxSpans bounds Resolve's walk; no zone has ever changed offset more than a few times in 34 hours.
const maxSpans = 16

// NextN lists the next n runs after after: the schedule form's preview.
func (c *Cadence) NextN(after time.Time, n int) []time.Time {
	var out []time.Time
	for t := after; len(out) < n; {
		next := c.Next(t)
		if !next.After(t) { // zero (never fires) or, against every test, not moving on: stop rather than spin
			break
		}
		t = next
		out = append(out, t)
	}
	return out
}

// Interval is the longest gap between two of the next few runs: how long "no new backup" is normal before the
// monitor calls a backup stale. Zero for manual schedules.
func (c *Cadence) Interval(now time.Time) time.Duration {
	runs := c.NextN(now, 6)
	var longest time.Duration
	for i := 1; i < len(runs); i++ {
		longest = max(longest, runs[i].Sub(runs[i-1]))
	}
	return longest
}

func parseClock(s string) (h, m int, err error) {
	hs, ms, ok := strings.Cut(strings.TrimSpace(s), ":")
	if ok && len(ms) == 2 && len(hs) >= 1 && len(hs) <= 2 {
		h, err1 := strconv.Atoi(hs)
		m, err2 := strconv.Atoi(ms)
		if err1 == nil && err2 == nil && h >= 0 && h < 24 && m >= 0 && m < 60 {
			return h, m, nil
		}
	}
	return 0, 0, fmt.Errorf("time of day must be HH:MM in 24-hour time (e.g. 02:00), got %q", s)
}

func loadLocation(name string) (*time.Location, error) {
	// "Local" would follow whatever machine the worker lands on; a clinic's schedule must not.
	if name == "Local" || strings.ContainsAny(name, " \x00") {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Asia/Manila)", name)
	}
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Asia/Manila)", name)
	}
	locations.Store(name, loc)
	return loc, nil
}

// locations caches loaded zones: time.LoadLocation reads and parses the zone file on every call, and the
// scheduler parses every schedule at every tick. Only names that loaded are stored, so it stays as small as
// the tz database.
var locations sync.Map
