// Package alert keeps one alert per (rule, subject) and decides which e-mails that deserves: one when it
// opens, a reminder every ALERT_REMIND_AFTER while it stays open, one when it clears, and nothing else. Rules
// (the recoverability state, event hooks) only say what is firing; this package owns the life cycle.
package alert

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// Rules pisbackup alerts on: every one is a rule of the recoverability state (internal/recovery), so an alert
// is open exactly while the State shows its problem.
const (
	RuleBackupMissing       = recovery.RuleBackupMissing
	RuleBackupUnproven      = recovery.RuleBackupUnproven
	RuleBackupFailed        = recovery.RuleBackupFailed
	RuleBackupStale         = recovery.RuleBackupStale
	RuleDrillOverdue        = recovery.RuleDrillOverdue
	RuleVerifyFailed        = recovery.RuleVerificationFailed
	RuleStorageFull         = recovery.RuleStorageFull
	RuleMonitorNotRunning   = recovery.RuleWorkerNotRunning
	RuleSchedulerNotRunning = recovery.RuleSchedulerNotRunning
	RuleMediaMigration      = recovery.RuleMediaMigration
	RuleEmailFailing        = recovery.RuleEmail
)

// Silent reports whether a rule is shown on the dashboard but never e-mailed: a problem with e-mail delivery
// cannot be announced by e-mail.
func Silent(rule string) bool { return rule == RuleEmailFailing }

// Condition is one problem that holds right now.
type Condition struct {
	Rule     string
	Subject  string // what it is about, e.g. "schedule:3"; one open alert per (Rule, Subject)
	Severity string // info, warning or critical
	Title    string
	Message  string
	// Recommendation tells staff what to do about it.
	Recommendation string
	// Link is the page of the backup or schedule the alert is about.
	Link string
	// Event identifies the occurrence (e.g. the failed backup's id): a new Event on an open alert counts one
	// more occurrence but sends nothing.
	Event string
}

// Details is what an alert row's details column holds.
type Details struct {
	Message        string `json:"message,omitempty"`
	Recommendation string `json:"recommendation,omitempty"`
	Link           string `json:"link,omitempty"`
	Event          string `json:"event,omitempty"`
}

// ParseDetails reads an alert's details; a missing or foreign value gives the zero Details. Rows written before
// alerts carried links get the link their subject implies.
func ParseDetails(raw json.RawMessage) Details {
	var d Details
	_ = json.Unmarshal(raw, &d)
	return d
}

// LinkOf is the page an alert is about (a path such as /backups/25): the link it was raised with, else what
// its subject names.
func LinkOf(subject string, details json.RawMessage) string {
	if d := ParseDetails(details); d.Link != "" {
		return d.Link
	}
	kind, id, _ := strings.Cut(subject, ":")
	switch kind {
	case "schedule":
		return "/schedules/" + id
	case "backup":
		return "/backups/" + id
	case "kind":
		return "/backups?kind=" + id
	case "media_migration":
		return "/media"
	}
	return "/health"
}

// Deliver enqueues delivery of a recorded emails row inside tx (the email_send job), so the row and its job
// commit together. Nil is fine while e-mail goes to the outbox.
type Deliver func(ctx context.Context, tx pgx.Tx, emailID int64) error

// Engine applies evaluations to the alerts table and records the e-mails they call for.
type Engine struct {
	Pool    *pgxpool.Pool
	Cfg     *config.Config
	Log     *slog.Logger
	Now     func() time.Time
	Deliver Deliver
	// InWorker is true when the engine runs in the worker: e-mail bodies then leave out "worker not running".
	InWorker bool
}

// Scope says which open alerts an evaluation speaks for: an open alert in scope that is not firing has cleared.
// Alerts outside the scope are left alone (a backup hook says nothing about storage).
type Scope func(rule, subject string) bool

// ForRules scopes an evaluation that checked every subject of the given rules.
func ForRules(rules ...string) Scope {
	return func(rule, _ string) bool {
		for _, r := range rules {
			if r == rule {
				return true
			}
		}
		return false
	}
}

// ForSubject scopes an evaluation of one subject of one rule (an event).
func ForSubject(rule, subject string) Scope {
	return func(r, s string) bool { return r == rule && s == subject }
}

// Outcome is what an evaluation changed.
type Outcome struct {
	Opened, Reminded, Resolved []queries.Alert
	Emails                     []queries.Email
}

// Raise opens (or keeps open) one alert at the moment its event happens; other packages call it, e.g. a media
// migration that ended with failures.
func (e *Engine) Raise(ctx context.Context, c Condition) (Outcome, error) {
	return e.Apply(ctx, ForSubject(c.Rule, c.Subject), []Condition{c})
}

// Clear resolves the open alert for (rule, subject), if any, with its recovery e-mail.
func (e *Engine) Clear(ctx context.Context, rule, subject string) (Outcome, error) {
	return e.Apply(ctx, ForSubject(rule, subject), nil)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}
