// Package recovery answers the one question pisbackup exists for: can the clinic get its data back right now?
//
// Evaluate reads the catalog (and storage, when given) once and returns a State: per kind the newest good and
// newest drill-proven backup, failed verifications, staleness against every active schedule, whether the
// scheduler and the worker are alive, and whether alert e-mail can reach anyone. Every output renders that one
// State and nothing else: the dashboard headline, the health page, /readyz, /api/v1/health, /metrics,
// `pisbackup monitor-backups [--json]`, the alert rules (one alert per Problem) and the alert e-mail bodies.
// It reads; it never changes anything.
//
// "Good" is one definition, held by the catalog query BackupLatestGood: finished (succeeded or warning), not
// pruned, no level's newest verification failed (backups.verify_state), and made by pisbackup (an upload never
// counts). "Proven" adds: its newest drill passed (verify_state 'proven').
package recovery

import (
	"time"
)

// Status levels of a State, from best to worst.
const (
	StatusOK       = "ok"
	StatusWarning  = "warning"
	StatusCritical = "critical"
)

// Rules a Problem comes from. They are stable identifiers: alerts are keyed by (Rule, Subject).
const (
	// RuleBackupMissing: no good backup of the clinic database exists (fresh install, or every one failed).
	RuleBackupMissing = "backup_missing"
	// RuleBackupUnproven: good database backups exist but none has been restored by a drill.
	RuleBackupUnproven = "backup_unproven"
	// RuleBackupFailed: the newest finished backup of a kind failed; the next good backup of the kind clears it,
	// whatever started either (schedule, Back up now, CLI, API). Subject "kind:K".
	RuleBackupFailed = "backup_failed"
	// RuleBackupStale: a schedule's kind has no good backup newer than the schedule's interval plus grace, or no
	// active schedule backs up the clinic database at all. Subject "schedule:N" or "kind:database".
	RuleBackupStale = "backup_stale"
	// RuleDrillOverdue: a drill schedule has not proven a backup within its interval plus grace.
	RuleDrillOverdue = "drill_overdue"
	// RuleVerificationFailed: a stored backup's newest verification of some level failed. Subject "backup:N";
	// open until the backup is re-verified good or deleted.
	RuleVerificationFailed = "verification_failed"
	// RuleStorageFull: backup storage has less than 10% free (critical under 5%).
	RuleStorageFull = "storage_full"
	// RuleWorkerNotRunning: the worker's health job has not recorded anything for two intervals.
	RuleWorkerNotRunning = "monitor_not_running"
	// RuleSchedulerNotRunning: no schedule_tick job completed within SchedulerGrace: no scheduled backup or
	// drill will start.
	RuleSchedulerNotRunning = "scheduler_not_running"
	// RuleEmail: alert e-mail cannot reach anyone. Subjects "config" (no SendGrid key: outbox only),
	// "recipients" (nobody to send to), "sendgrid" (the newest delivery failed).
	RuleEmail = "email_failing"
	// RuleMediaMigration: the newest media migration to Cloudinary ended with failed files.
	RuleMediaMigration = "media_migration_failed"
)

// Rules lists every rule Evaluate checks, in the order a State lists problems of equal severity: the specific
// cause (a failed backup, a corrupt one) before its consequence (no good backup), so the headline names it.
var Rules = []string{RuleBackupFailed, RuleVerificationFailed, RuleBackupMissing, RuleBackupUnproven, RuleBackupStale,
	RuleSchedulerNotRunning, RuleWorkerNotRunning, RuleStorageFull, RuleDrillOverdue, RuleMediaMigration, RuleEmail}

// Interval is how often the worker's health job runs and records the state; two missed intervals mean the
// worker is down.
const Interval = 15 * time.Minute

// SchedulerGrace is how long the scheduler (a schedule_tick every 30 s) may go without completing a pass.
const SchedulerGrace = 5 * time.Minute

// MetricName is the health_metrics row the worker's health job writes with each State (0 ok, 1 warning,
// 2 critical); its newest recorded_at proves the worker runs.
const MetricName = "monitor_status"

// Kinds of backup, in the order outputs list them. The clinic database is what the headline is about.
var Kinds = []string{"database", "media", "full"}

// Problem is one thing wrong, phrased for the clinic's staff.
type Problem struct {
	Rule string `json:"rule"`
	// Subject says what it is about within the rule: "kind:database", "schedule:3", "backup:25", "storage",
	// "worker", "scheduler", "recipients".
	Subject        string `json:"subject"`
	Severity       string `json:"severity"` // warning or critical
	Message        string `json:"message"`
	Recommendation string `json:"recommendation"`
	// Link is the page of what the problem is about (/backups/25, /schedules/3, /alerts …).
	Link string `json:"link"`
	// Event identifies the occurrence (the failed backup's id): a new one on an open alert counts once more.
	Event string `json:"event,omitempty"`
}

// BackupRef is one backup as the State cites it.
type BackupRef struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	At         time.Time `json:"at"` // when it finished (its restore point)
	ScheduleID *int64    `json:"schedule_id,omitempty"`
	// AgeSeconds is how old At was when the State was computed.
	AgeSeconds float64 `json:"age_seconds"`
}

// FailedVerification is a stored backup whose newest verification of Level failed.
type FailedVerification struct {
	BackupID       int64  `json:"backup_id"`
	VerificationID int64  `json:"verification_id"`
	Level          string `json:"level"`
	Error          string `json:"error"`
}

// KindState is the recoverability of one kind of backup.
type KindState struct {
	Kind string `json:"kind"`
	// Newest is the newest finished backup pisbackup made of this kind, whatever its outcome.
	Newest *BackupRef `json:"newest"`
	// NewestGood is the newest good backup (see the package comment); nil when none.
	NewestGood *BackupRef `json:"newest_good"`
	// NewestProven is the newest backup a drill proved restorable; nil when none. RTO is what that drill took.
	NewestProven *BackupRef `json:"newest_proven"`
	RTOMillis    *int64     `json:"rto_ms,omitempty"`
	// FailedVerifications are this kind's stored backups that are not good because a verification failed.
	FailedVerifications []FailedVerification `json:"failed_verifications"`
}

// ScheduleState is one active schedule measured against what it promises.
type ScheduleState struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Deadline *time.Time `json:"deadline"` // when its kind next needs a fresh good (or proven) backup
	Overdue  bool       `json:"overdue"`
}

// Liveness says when a background process last showed it works.
type Liveness struct {
	LastAt *time.Time `json:"last_at"`
	Alive  bool       `json:"alive"`
}

// Stats are the numbers behind the State, for e-mails, the CLI and the health job's metrics.
type Stats struct {
	Finished24h int64 `json:"finished_24h"`
	Good24h     int64 `json:"good_24h"`
	// SuccessRate24h is Good24h/Finished24h; nil when nothing finished (a rate of nothing is not 100%).
	SuccessRate24h *float64 `json:"success_rate_24h"`
	Finished7d     int64    `json:"finished_7d"`
	Good7d         int64    `json:"good_7d"`
	SuccessRate7d  *float64 `json:"success_rate_7d"`
	// StorageUsedBytes etc. are zero when storage was not read (StorageRead false).
	StorageRead       bool  `json:"storage_read"`
	StorageUsedBytes  int64 `json:"storage_used_bytes"`
	StorageFreeBytes  int64 `json:"storage_free_bytes"`
	StorageTotalBytes int64 `json:"storage_total_bytes"`
}

// State is one evaluation: everything every output shows.
type State struct {
	Status    string    `json:"status"`
	Level     Level     `json:"level"`
	Label     string    `json:"label"`
	Headline  string    `json:"headline"`
	CheckedAt time.Time `json:"checked_at"`
	// RPOSeconds is the age of the newest proven database restore point (what would be lost right now);
	// nil when nothing is proven. RTOMillis is what its drill took.
	RPOSeconds *float64             `json:"rpo_seconds"`
	RTOMillis  *int64               `json:"rto_ms"`
	Kinds      map[string]KindState `json:"kinds"`
	Schedules  []ScheduleState      `json:"schedules"`
	Scheduler  Liveness             `json:"scheduler"`
	Worker     Liveness             `json:"worker"`
	Email      *EmailStatus         `json:"email,omitempty"`
	Problems   []Problem            `json:"problems"`
	Stats      Stats                `json:"stats"`
}

// Has reports whether a problem of rule is present.
func (s State) Has(rule string) bool {
	for _, p := range s.Problems {
		if p.Rule == rule {
			return true
		}
	}
	return false
}

// Code is the exit code of `pisbackup monitor-backups`: 0 ok, 1 warning, 2 critical.
func (s State) Code() int {
	switch s.Status {
	case StatusCritical:
		return 2
	case StatusWarning:
		return 1
	}
	return 0
}

// Without drops a rule's problems and recomputes status and headline. The worker's own jobs use it to leave out
// "worker not running": they are the worker, and it is running.
func (s State) Without(rule string) State {
	out := s
	out.Problems = []Problem{}
	for _, p := range s.Problems {
		if p.Rule != rule {
			out.Problems = append(out.Problems, p)
		}
	}
	if rule == RuleWorkerNotRunning {
		out.Worker.Alive = true
	}
	out.finish()
	return out
}
