package views

import (
	"time"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// DashboardVM is the staff dashboard: the recoverability headline and what stands behind it.
type DashboardVM struct {
	Chrome
	// State is the recoverability state every page, probe and e-mail renders.
	State      recovery.State
	LastByKind []queries.Backup
	NextRuns   []NextRunVM
	// Paused lists the schedules someone paused: while any is, the dashboard warns (they run nothing).
	Paused     []queries.Schedule
	OpenAlerts []queries.Alert
	Storage    StorageVM
	Config     []ConfigItemVM
	// Live is true while something runs: the live panel then polls itself.
	Live bool
}

// NextRunVM is one upcoming scheduled run.
type NextRunVM struct {
	ScheduleID int64
	Name, Kind string
	At         time.Time
}

// StorageVM is storage use; Total 0 means the backend cannot tell (S3).
type StorageVM struct {
	Where             string
	Used, Total, Free int64
	Err               string
	// MeasuredAt is when the figures were measured; zero when read live.
	MeasuredAt time.Time
}

// ConfigItemVM is one line of the configuration panel: what it is, whether it is OK, and where to fix it.
type ConfigItemVM struct {
	Name, State, Detail, FixURL, FixLabel string
	OK                                    bool
	// Off marks an integration that is simply not configured (neither OK nor a problem).
	Off bool
}
