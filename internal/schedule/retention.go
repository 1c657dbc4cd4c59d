package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Policy is a schedule's retention. What it keeps (see Plan for the whole rule):
//   - everything younger than max_age_days, when that is set;
//   - otherwise exactly the union of the keep_* buckets: the newest keep_last backups, and the newest backup of
//     each of the newest keep_daily days, keep_weekly ISO weeks and keep_monthly months that have one;
//   - and, whatever the policy, the newest good backup, the newest proven (drill-restored) one and any in use.
//
// All five at 0 keeps everything (retention off): an empty form never means "delete every backup". max_age_days
// alone keeps everything younger than that many days and prunes the rest.
type Policy struct {
	KeepLast    int `json:"keep_last"`
	KeepDaily   int `json:"keep_daily"`
	KeepWeekly  int `json:"keep_weekly"`
	KeepMonthly int `json:"keep_monthly"`
	MaxAgeDays  int `json:"max_age_days"`
}

// Validate names each negative or absurd count, and refuses a policy that would keep only the newest backup
// without saying so: with no age limit and no count above 1, keep_daily 1 (the newest day's newest), keep_weekly
// 1 and keep_monthly 1 all select the single newest backup. Such a policy must say keep_last: 1.
func (p Policy) Validate() error {
	var errs Errors
	for _, f := range []struct {
		name string
		v    int
	}{{"keep_last", p.KeepLast}, {"keep_daily", p.KeepDaily}, {"keep_weekly", p.KeepWeekly},
		{"keep_monthly", p.KeepMonthly}, {"max_age_days", p.MaxAgeDays}} {
		if f.v < 0 {
			errs.add(f.name, "%s must be 0 or more, got %d", f.name, f.v)
		} else if f.v > 100000 {
			errs.add(f.name, "%s is unreasonably large (%d)", f.name, f.v)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if p.KeepsOnlyNewest() && p.KeepLast != 1 {
		for _, f := range []struct {
			name, period string
			v            int
		}{{"keep_daily", "day", p.KeepDaily}, {"keep_weekly", "week", p.KeepWeekly}, {"keep_monthly", "month", p.KeepMonthly}} {
			if f.v == 1 {
				errs.add(f.name, "%s: 1 with no other count above 1 and no max_age_days keeps only the newest backup "+
					"(the newest %s's newest); set keep_last: 1 if that is what you mean, or keep more", f.name, f.period)
				break
			}
		}
		return errs
	}
	return nil
}

// String says the policy in words, for the schedules page and setup-schedules: "last 7, 7 daily, 4 weekly,
// 6 monthly, everything under 30 days", or "keep everything".
func (p Policy) String() string {
	var parts []string
	for _, f := range []struct {
		n    int
		what string
	}{{p.KeepLast, "last %d"}, {p.KeepDaily, "%d daily"}, {p.KeepWeekly, "%d weekly"}, {p.KeepMonthly, "%d monthly"},
		{p.MaxAgeDays, "everything under %d days"}} {
		if f.n > 0 {
			parts = append(parts, fmt.Sprintf(f.what, f.n))
		}
	}
	if len(parts) == 0 {
		return "keep everything"
	}
	return strings.Join(parts, ", ")
}

// KeepsOnlyNewest reports whether p, at any time and on any history, keeps nothing but the newest backup (and
// the guarantees Plan adds to every policy).
func (p Policy) KeepsOnlyNewest() bool {
	return !p.Off() && p.MaxAgeDays == 0 && p.KeepLast <= 1 && p.KeepDaily <= 1 && p.KeepWeekly <= 1 && p.KeepMonthly <= 1
}

// Off reports whether the policy keeps everything.
func (p Policy) Off() bool {
	return p.KeepLast == 0 && p.KeepDaily == 0 && p.KeepWeekly == 0 && p.KeepMonthly == 0 && p.MaxAgeDays == 0
}

// DecodePolicy reads a policy from JSON strictly: unknown fields, wrong types and negative counts are errors.
func DecodePolicy(data []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("retention policy: %w", err)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("retention policy: trailing data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Origin is how a backup of a schedule came to be; retention counts each origin on its own.
type Origin string

// Origins. A manual run ("Run now" on the page, the API or the CLI) belongs to its schedule but is counted
// apart from the scheduled runs, so pressing it never pushes a scheduled backup out of its bucket. An upload
// holds a file someone handed in: retention never counts it and never deletes it.
const (
	Scheduled Origin = "scheduled"
	Manual    Origin = "manual"
	Upload    Origin = "upload"
)

// Item is one backup as retention sees it: the catalog's facts, nothing retention works out itself.
type Item struct {
	ID     int64
	At     time.Time // when it finished (or was queued)
	Origin Origin
	// Good: it holds a usable artifact: succeeded or warning, not pruned, and no failed verification. A backup
	// that is not good (failed, cancelled, corrupt) is never counted toward keep_* and never pruned here.
	Good bool
	// Proven: a drill restored it successfully.
	Proven bool
	// InUse: a verification or restore is queued or running on it.
	InUse bool
	// Pinned, when set, says why something outside this schedule needs it (the newest good backup of its kind,
	// the newest proven one overall); it is kept.
	Pinned string
}

// Decision says whether one counted Item stays and why.
type Decision struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Origin  Origin    `json:"origin"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons"` // empty when pruned
}

// Keep reasons.
const (
	ReasonOff     = "retention off"
	ReasonYoung   = "younger than max_age_days"
	ReasonLast    = "last"
	ReasonDaily   = "daily"
	ReasonWeekly  = "weekly"
	ReasonMonthly = "monthly"
	ReasonNewest  = "newest good"
	ReasonProven  = "newest proven"
	ReasonInUse   = "in use"
)

// Counted reports whether retention counts (and so may prune) it: good, and not an upload.
func (it Item) Counted() bool { return it.Good && it.Origin != Upload }

// Plan decides, at now, for each counted item (good and not an upload) whether policy p keeps it, with days,
// weeks and months cut in loc (the schedule's zone). The rule:
//
//  1. A policy of all zeros keeps everything.
//  2. Anything younger than max_age_days (calendar days in loc before now) is kept.
//  3. Otherwise an item is kept exactly when it falls in a keep_* bucket. The buckets are filled separately for
//     scheduled and for manual runs: keep_last takes the newest keep_last of them; keep_daily (weekly, monthly)
//     takes the newest of each of the newest keep_daily days (ISO weeks, months) that have one, so a run of
//     failures never empties a bucket and gaps of months do not count.
//  4. Whatever the policy: the newest counted item, the newest proven counted item, and items in use or
//     pinned stay.
//
// Items not counted (not good, or uploads) get no Decision: retention never prunes them, and they neither
// fill a bucket nor push another item out of one. The answer depends only on the set of items, not their
// order, and pruning what it says and planning again at the same now prunes nothing more. Newest first.
func Plan(p Policy, items []Item, now time.Time, loc *time.Location) []Decision {
	var counted []Item
	for _, it := range items {
		if it.Counted() {
			counted = append(counted, it)
		}
	}
	sort.Slice(counted, func(i, j int) bool { return newer(counted[i], counted[j]) })
	out := make([]Decision, len(counted))
	index := map[int64]int{}
	for i, it := range counted {
		out[i] = Decision{ID: it.ID, At: it.At, Origin: it.Origin}
		index[it.ID] = i
	}
	keep := func(i int, why string) {
		if !slices.Contains(out[i].Reasons, why) {
			out[i].Reasons = append(out[i].Reasons, why)
		}
	}
	if p.Off() {
		for i := range out {
			keep(i, ReasonOff)
		}
	}
	if p.MaxAgeDays > 0 {
		limit := now.In(loc).AddDate(0, 0, -p.MaxAgeDays)
		for i, it := range counted {
			if !it.At.Before(limit) {
				keep(i, ReasonYoung)
			}
		}
	}
	for _, origin := range []Origin{Scheduled, Manual} {
		var pool []Item // newest first, like counted
		for _, it := range counted {
			if it.Origin == origin || (origin == Manual && it.Origin != Scheduled) {
				pool = append(pool, it)
			}
		}
		for i := 0; i < len(pool) && i < p.KeepLast; i++ {
			keep(index[pool[i].ID], ReasonLast)
		}
		for _, b := range []struct {
			n      int
			why    string
			period func(time.Time) string
		}{
			{p.KeepDaily, ReasonDaily, func(t time.Time) string { return t.In(loc).Format("2006-01-02") }},
			{p.KeepWeekly, ReasonWeekly, func(t time.Time) string { y, w := t.In(loc).ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
			{p.KeepMonthly, ReasonMonthly, func(t time.Time) string { return t.In(loc).Format("2006-01") }},
		} {
			seen := map[string]bool{}
			for _, it := range pool {
				if len(seen) >= b.n {
					break
				}
				if k := b.period(it.At); !seen[k] {
					seen[k] = true
					keep(index[it.ID], b.why)
				}
			}
		}
	}
	proven := false
	for i, it := range counted {
		if i == 0 {
			keep(i, ReasonNewest)
		}
		if it.Proven && !proven {
			proven = true
			keep(i, ReasonProven)
		}
		if it.InUse {
			keep(i, ReasonInUse)
		}
		if it.Pinned != "" {
			keep(i, it.Pinned)
		}
		out[i].Keep = len(out[i].Reasons) > 0
	}
	return out
}

// newer orders items newest first, ties broken by the larger id, so Plan's answer never depends on input order.
func newer(a, b Item) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	return a.ID > b.ID
}
