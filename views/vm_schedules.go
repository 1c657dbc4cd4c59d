package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/queries"
)

// ScheduleListVM is the schedules page.
type ScheduleListVM struct {
	Chrome
	Rows []queries.Schedule
	// LastRun is each schedule's newest backup, by schedule id (absent before its first run).
	LastRun map[int64]queries.BackupLatestPerScheduleRow
	// Saved names the schedule just saved ("Saved" confirmation after the form's redirect).
	Saved string
}

// ScheduleFormVM is the create/edit form. ID is 0 for a new schedule.
type ScheduleFormVM struct {
	Chrome
	ID     int64
	In     schedule.Input
	Errors schedule.Errors
	// Preview is the next five runs (or the cadence's error) and what the typed policy would delete, shown
	// under the form and refreshed as you type.
	Preview SchedulePreviewVM
	Row     *queries.Schedule
}

// SchedulePreviewVM is the HTMX partial: the next five run times and the retention preview.
type SchedulePreviewVM struct {
	Chrome
	ID    int64 // the schedule being edited; 0 for a new one
	Runs  []time.Time
	Error string
	TZ    string
	// WouldPrune is what retention would delete now under the policy as typed; Kept counts what it keeps.
	WouldPrune  []schedule.Decision
	Kept        int
	PolicyError string
}

// Weekdays names schedule.Spec.Weekday values for the form.
var Weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// Cadence describes a schedule's cadence in words ("daily at 02:00 Asia/Manila").
func Cadence(s queries.Schedule) string {
	tz := s.Timezone
	switch s.Cadence {
	case "daily":
		return fmt.Sprintf("daily at %s %s", s.TimeOfDay, tz)
	case "weekly":
		day := "?"
		if s.Weekday >= 0 && int(s.Weekday) < len(Weekdays) {
			day = Weekdays[s.Weekday]
		}
		return fmt.Sprintf("weekly on %s at %s %s", day, s.TimeOfDay, tz)
	case "monthly":
		return fmt.Sprintf("monthly on day %d at %s %s", s.DayOfMonth, s.TimeOfDay, tz)
	case "cron":
		return fmt.Sprintf("cron %q (%s)", s.CronExpr, tz)
	}
	return "manual only"
}

// Retention summarises a schedule's policy ("last 7, 7 daily, 4 weekly, 6 monthly").
func Retention(s queries.Schedule) string { return schedule.FromRow(s).Policy.String() }

// InZone shows t in zone tz (the schedule's own), falling back to the display zone.
func (c Chrome) InZone(t time.Time, tz string) string {
	if loc, err := time.LoadLocation(tz); err == nil && tz != "" {
		return t.In(loc).Format("Mon 2006-01-02 15:04 UTC-07:00") // not MST: Go abbreviates Asia/Manila as "PST"
	}
	return c.Time(t)
}

// HealthVM is the health page: the recoverability state (the dashboard's), the newest metrics and trend charts
// for one window.
type HealthVM struct {
	Chrome
	Range string // 24h, 7d or 30d
	// CheckGroups are the "Test connection" buttons.
	CheckGroups []CheckGroupVM
	State       recovery.State
	Latest      []queries.HealthMetric
	Charts      []Chart
}

// showFor reports whether a schedule form field marked for the space-separated cadences is shown for
// cadence (the same rule app.js applies when the cadence changes).
func showFor(cadence, cadences string) bool {
	for _, c := range strings.Fields(cadences) {
		if c == cadence {
			return true
		}
	}
	return false
}
