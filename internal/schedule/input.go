package schedule

import (
	"strings"
	"time"

	"github.com/uscpis/pisbackup/queries"
)

// Input is a whole schedule as a person or the API submits it: the form, the JSON body and setup-schedules all
// validate through it, so the three cannot disagree about what is allowed.
type Input struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // database, media, full or drill
	Spec
	Policy
	VerifyLevel string `json:"verify_level"` // none, checksum, archive or drill
	Active      bool   `json:"active"`
}

// Validate checks every field and returns the cadence, or Errors naming each bad field.
func (in *Input) Validate() (*Cadence, error) {
	in.Name = strings.TrimSpace(in.Name)
	var errs Errors
	switch {
	case in.Name == "":
		errs.add("name", "name is required")
	case len(in.Name) > 100:
		errs.add("name", "name must be at most 100 characters")
	}
	switch in.Kind {
	case "database", "media", "full", "drill":
	default:
		errs.add("kind", "kind must be database, media, full or drill, got %q", in.Kind)
	}
	if in.VerifyLevel == "" {
		in.VerifyLevel = "checksum"
	}
	switch in.VerifyLevel {
	case "none", "checksum", "archive", "drill":
	default:
		errs.add("verify_level", "verify level must be none, checksum, archive or drill, got %q", in.VerifyLevel)
	}
	if in.Timezone == "" {
		in.Timezone = DefaultTimezone
	}
	c, err := Parse(in.Spec)
	if e, ok := err.(Errors); ok {
		errs = append(errs, e...)
	}
	if e, ok := in.Policy.Validate().(Errors); ok {
		errs = append(errs, e...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// NextRun is what next_run_at should hold after a save at now: nil for manual or paused schedules, and for a
// cadence with no run ahead (a zero time stored as next_run_at would be "due" at every tick).
func NextRun(c *Cadence, active bool, now time.Time) *time.Time {
	if c == nil || !active || c.Cadence == "manual" {
		return nil
	}
	t := c.Next(now).UTC()
	if t.IsZero() {
		return nil
	}
	return &t
}

// FromRow reads a stored schedule back into an Input.
func FromRow(s queries.Schedule) Input {
	return Input{Name: s.Name, Kind: s.Kind, VerifyLevel: s.VerifyLevel, Active: s.Active,
		Spec: Spec{Cadence: s.Cadence, TimeOfDay: s.TimeOfDay, Weekday: int(s.Weekday), DayOfMonth: int(s.DayOfMonth),
			CronExpr: s.CronExpr, Timezone: s.Timezone},
		Policy: Policy{KeepLast: int(s.KeepLast), KeepDaily: int(s.KeepDaily), KeepWeekly: int(s.KeepWeekly),
			KeepMonthly: int(s.KeepMonthly), MaxAgeDays: int(s.MaxAgeDays)}}
}

// InsertParams converts a validated Input for ScheduleInsert.
func (in Input) InsertParams(next *time.Time) queries.ScheduleInsertParams {
	return queries.ScheduleInsertParams{Name: in.Name, Kind: in.Kind, Cadence: in.Cadence, TimeOfDay: orDefault(in.TimeOfDay, "02:00"),
		Weekday: int32(clamp(in.Weekday, 0, 6, 0)), DayOfMonth: int32(clamp(in.DayOfMonth, 1, 31, 1)), CronExpr: in.CronExpr, Timezone: in.Timezone,
		Active: in.Active, KeepLast: int32(in.KeepLast), KeepDaily: int32(in.KeepDaily), KeepWeekly: int32(in.KeepWeekly),
		KeepMonthly: int32(in.KeepMonthly), MaxAgeDays: int32(in.MaxAgeDays), VerifyLevel: in.VerifyLevel, NextRunAt: next}
}

// UpdateParams converts a validated Input for ScheduleUpdate.
func (in Input) UpdateParams(id int64, next *time.Time) queries.ScheduleUpdateParams {
	p := in.InsertParams(next)
	return queries.ScheduleUpdateParams{ID: id, Name: p.Name, Kind: p.Kind, Cadence: p.Cadence, TimeOfDay: p.TimeOfDay,
		Weekday: p.Weekday, DayOfMonth: p.DayOfMonth, CronExpr: p.CronExpr, Timezone: p.Timezone, Active: p.Active,
		KeepLast: p.KeepLast, KeepDaily: p.KeepDaily, KeepWeekly: p.KeepWeekly, KeepMonthly: p.KeepMonthly,
		MaxAgeDays: p.MaxAgeDays, VerifyLevel: p.VerifyLevel, NextRunAt: next}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// clamp keeps fields the cadence ignores (a daily schedule's weekday, say) inside the table's CHECK ranges.
func clamp(v, lo, hi, def int) int {
	if v < lo || v > hi {
		return def
	}
	return v
}
