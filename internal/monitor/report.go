// Package monitor evaluates whether pisbackup's backups are healthy: the same checks feed /readyz, the health
// page, `pisbackup monitor-backups` and the alert e-mails (which turn each Problem into one alert keyed by
// Rule and Subject). It reads the catalog and storage; it never changes anything.
package monitor

import (
	"time"
)

// Status levels of a Report, from best to worst.
const (
	StatusOK       = "ok"
	StatusWarning  = "warning"
	StatusCritical = "critical"
)

// Rules a Problem can come from. They are stable identifiers: alerts are keyed by (Rule, Subject).
const (
	// RuleBackupFailed: the newest finished backup of a schedule (or of a kind, for unscheduled runs) failed.
	RuleBackupFailed = "backup_failed"
	// RuleBackupStale: the newest good backup is older than its schedule's interval plus grace.
	RuleBackupStale = "backup_stale"
	// RuleVerificationFailed: the newest finished verification of a level (checksum, archive, drill) failed.
	RuleVerificationFailed = "verification_failed"
	// RuleStorageFull: backup storage has less than 10% free (critical under 5%).
	RuleStorageFull = "storage_full"
	// RuleMonitorNotRunning: the health/monitor job has not recorded anything for two intervals: the worker
	// (and so the scheduler) is probably down.
	RuleMonitorNotRunning = "monitor_not_running"
)

// Interval is how often the worker's health job runs and records the monitor's verdict.
const Interval = 15 * time.Minute

// Problem is one thing wrong, phrased for the clinic's staff. Subject identifies what it is about within the
// rule: "schedule:3", "kind:database", "level:drill", "storage", "worker".
type Problem struct {
	Rule           string `json:"rule"`
	Subject        string `json:"subject"`
	Severity       string `json:"severity"` // warning or critical
	Message        string `json:"message"`
	Recommendation string `json:"recommendation"`
}

// Stats are the numbers behind the verdict, for e-mails and the CLI.
type Stats struct {
	Finished24h    int64   `json:"finished_24h"`
	Good24h        int64   `json:"good_24h"`
	SuccessRate24h float64 `json:"success_rate_24h"` // 0..1; 1 when nothing finished
	Finished7d     int64   `json:"finished_7d"`
	Good7d         int64   `json:"good_7d"`
	SuccessRate7d  float64 `json:"success_rate_7d"`
	// LastGoodAgeSeconds is the age of the newest good backup per kind; kinds never backed up are absent.
	LastGoodAgeSeconds map[string]float64 `json:"last_good_age_seconds"`
	// LastGoodDatabase is the newest good database backup's finish time (nil if none).
	LastGoodDatabase *time.Time `json:"last_good_database,omitempty"`
	// DrillProvenAgeSeconds is the age of the newest backup a drill restored (nil if none ever).
	DrillProvenAgeSeconds *float64 `json:"drill_proven_age_seconds,omitempty"`
	StorageUsedBytes      int64    `json:"storage_used_bytes"`
	StorageFreeBytes      int64    `json:"storage_free_bytes"` // 0 when unknown
	StorageTotalBytes     int64    `json:"storage_total_bytes"`
	// MonitorLastRun is when the worker's health job last recorded a verdict (nil if never).
	MonitorLastRun *time.Time `json:"monitor_last_run,omitempty"`
}

// Report is one evaluation.
type Report struct {
	Status    string    `json:"status"`
	CheckedAt time.Time `json:"checked_at"`
	Problems  []Problem `json:"problems"`
	Stats     Stats     `json:"stats"`
}

// Has reports whether a problem of rule is present.
func (r Report) Has(rule string) bool {
	for _, p := range r.Problems {
		if p.Rule == rule {
			return true
		}
	}
	return false
}

// Code is the exit code of `pisbackup monitor-backups`: 0 ok, 1 warning, 2 critical.
func (r Report) Code() int {
	switch r.Status {
	case StatusCritical:
		return 2
	case StatusWarning:
		return 1
	}
	return 0
}

// Level is the status as a number for metrics: 0 ok, 1 warning, 2 critical.
func (r Report) Level() float64 { return float64(r.Code()) }

func (r *Report) add(p Problem) {
	r.Problems = append(r.Problems, p)
	if p.Severity == StatusCritical || r.Status == StatusOK {
		r.Status = p.Severity
	}
}

// Without drops a rule's problems and recomputes the status. The worker's own health job uses it to leave
// out "monitor not running" — it is the monitor, and it is running.
func (r Report) Without(rule string) Report {
	out := r
	out.Status, out.Problems = StatusOK, []Problem{}
	for _, p := range r.Problems {
		if p.Rule != rule {
			out.add(p)
		}
	}
	return out
}
