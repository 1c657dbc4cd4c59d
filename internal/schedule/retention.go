package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Policy is a schedule's retention: the union of keep_last and the daily, weekly and monthly buckets, with an
// optional age limit. A policy whose keep counts are all zero keeps everything (retention off): deleting
// every backup is never what an empty form means.
type Policy struct {
	KeepLast    int `json:"keep_last"`
	KeepDaily   int `json:"keep_daily"`
	KeepWeekly  int `json:"keep_weekly"`
	KeepMonthly int `json:"keep_monthly"`
	MaxAgeDays  int `json:"max_age_days"`
}

// Validate names each negative count.
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
	return nil
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

// Item is one backup as retention sees it.
type Item struct {
	ID      int64
	At      time.Time // when it finished (or was queued)
	Good    bool      // succeeded or warning, and not yet pruned
	Drilled bool      // a drill restored it successfully
	InUse   bool      // a verification or restore is queued or running on it
}

// Decision says whether one Item stays and why. Only good items are ever pruned: failed rows hold no artifact.
type Decision struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons"`
}

// Plan decides for each good item whether p keeps it at now, with buckets cut in loc (the schedule's zone).
// Days, ISO weeks and months are counted among periods that have a good backup, so a run of failures never
// empties the buckets. Whatever else happens, the newest good, the newest drilled and anything in use stay.
// The result is newest first.
func Plan(p Policy, items []Item, now time.Time, loc *time.Location) []Decision {
	var good []Item
	for _, it := range items {
		if it.Good {
			good = append(good, it)
		}
	}
	sort.SliceStable(good, func(i, j int) bool {
		if !good[i].At.Equal(good[j].At) {
			return good[i].At.After(good[j].At)
		}
		return good[i].ID > good[j].ID
	})
	out := make([]Decision, len(good))
	for i, it := range good {
		out[i] = Decision{ID: it.ID, At: it.At}
	}
	keep := func(i int, why string) { out[i].Reasons = append(out[i].Reasons, why) }
	for i := 0; i < len(good) && i < p.KeepLast; i++ {
		keep(i, "last")
	}
	bucket(good, p.KeepDaily, "daily", func(t time.Time) string { return t.In(loc).Format("2006-01-02") }, keep)
	bucket(good, p.KeepWeekly, "weekly", func(t time.Time) string {
		y, w := t.In(loc).ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	}, keep)
	bucket(good, p.KeepMonthly, "monthly", func(t time.Time) string { return t.In(loc).Format("2006-01") }, keep)
	if p.MaxAgeDays > 0 {
		limit := now.AddDate(0, 0, -p.MaxAgeDays)
		for i := range out {
			if good[i].At.Before(limit) {
				out[i].Reasons = nil // too old: the age limit overrides the buckets, not the guarantees below
			}
		}
	}
	newestKept := -1
	for i := range out {
		if len(out[i].Reasons) > 0 {
			newestKept = i
			break
		}
	}
	drilled := false
	for i, it := range good {
		switch {
		case p.Off():
			keep(i, "retention off")
		case newestKept > 0 && i < newestKept:
			keep(i, "newer than the newest kept")
		}
		if i == 0 {
			keep(i, "newest good")
		}
		if it.Drilled && !drilled {
			drilled = true
			keep(i, "newest drilled")
		}
		if it.InUse {
			keep(i, "in use")
		}
		out[i].Keep = len(out[i].Reasons) > 0
	}
	return out
}

// bucket keeps the newest item of each of the n newest periods that have one.
func bucket(good []Item, n int, why string, period func(time.Time) string, keep func(int, string)) {
	seen := map[string]bool{}
	for i, it := range good {
		if len(seen) >= n {
			return
		}
		if k := period(it.At); !seen[k] {
			seen[k] = true
			keep(i, why)
		}
	}
}
