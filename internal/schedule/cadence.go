// Package schedule turns a schedule row's cadence into run times and its retention policy into keep/prune
// decisions. It is pure: no database, no clock of its own, so the scheduler job, the schedule form's preview
// and the tests all share exactly the same arithmetic.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
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

// Next is the first run strictly after after, or the zero time for a manual schedule (it never fires).
func (c *Cadence) Next(after time.Time) time.Time {
	t := after.In(c.loc)
	switch c.Cadence {
	case "daily":
		return c.firstAfter(t, func(d time.Time) time.Time { return c.at(d.Year(), d.Month(), d.Day()+1) }, c.at(t.Year(), t.Month(), t.Day()))
	case "weekly":
		back := (int(t.Weekday()) - c.Weekday + 7) % 7
		return c.firstAfter(t, func(d time.Time) time.Time { return c.at(d.Year(), d.Month(), d.Day()+7) },
			c.at(t.Year(), t.Month(), t.Day()-back))
	case "monthly":
		next := func(d time.Time) time.Time { return c.monthDay(d.Year(), d.Month()+1) }
		return c.firstAfter(t, next, c.monthDay(t.Year(), t.Month()))
	case "cron":
		return c.cron.Next(t)
	}
	return time.Time{}
}

// NextN lists the next n runs after after: the schedule form's preview.
func (c *Cadence) NextN(after time.Time, n int) []time.Time {
	var out []time.Time
	for t := after; len(out) < n; {
		t = c.Next(t)
		if t.IsZero() {
			break
		}
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

// firstAfter steps from a candidate on or before t's period until it passes t.
func (c *Cadence) firstAfter(t time.Time, step func(time.Time) time.Time, cand time.Time) time.Time {
	for !cand.After(t) {
		cand = step(cand)
	}
	return cand
}

func (c *Cadence) at(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, c.hour, c.minute, 0, 0, c.loc)
}

// monthDay clamps day 29-31 to the month's last day, so "monthly on the 31st" still runs in April.
func (c *Cadence) monthDay(y int, m time.Month) time.Time {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, c.loc).Day()
	return c.at(y, m, min(c.DayOfMonth, last))
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
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Asia/Manila)", name)
	}
	return loc, nil
}
