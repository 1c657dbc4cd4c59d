package alert

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// FromProblem turns one problem of the recoverability state into a condition; scheduleName makes a schedule's
// title readable (may be empty).
func FromProblem(p recovery.Problem, scheduleName string) Condition {
	return Condition{Rule: p.Rule, Subject: p.Subject, Severity: p.Severity, Message: p.Message,
		Recommendation: p.Recommendation, Link: p.Link, Event: p.Event, Title: Title(p.Rule, p.Subject, scheduleName)}
}

// FromState turns every problem of the state into conditions: an alert is open exactly while its problem is.
func FromState(s recovery.State, scheduleNames map[string]string) []Condition {
	var out []Condition
	for _, p := range s.Problems {
		out = append(out, FromProblem(p, scheduleNames[p.Subject]))
	}
	return out
}

// StateRules are the rules recovery.Evaluate checks for every subject: the scope of a periodic evaluation.
var StateRules = recovery.Rules

// Title is an alert's one-line name: the e-mail subject after the prefix, and the alerts page's heading.
func Title(rule, subject, name string) string {
	what := subject
	if name != "" {
		what = fmt.Sprintf("schedule %q", name)
	} else if k, ok := strings.CutPrefix(subject, "kind:"); ok {
		what = k + " backups"
	} else if id, ok := strings.CutPrefix(subject, "backup:"); ok {
		what = "backup #" + id
	}
	switch rule {
	case RuleBackupMissing:
		return "No good backup of the clinic database"
	case RuleBackupUnproven:
		return "No backup proven by a restore drill"
	case RuleBackupFailed:
		return "Backup failed: " + what
	case RuleBackupStale:
		if subject == "kind:database" {
			return "No schedule backs up the clinic database"
		}
		return "Backup overdue: " + what
	case RuleDrillOverdue:
		return "Drill overdue: " + what
	case RuleVerifyFailed:
		return "Verification failed: " + what
	case RuleStorageFull:
		return "Backup storage nearly full"
	case RuleMonitorNotRunning:
		return "The backup worker is not running"
	case RuleSchedulerNotRunning:
		return "The scheduler is not running"
	case RuleMediaMigration:
		return "Media migration to Cloudinary had failures"
	case RuleEmailFailing:
		switch subject {
		case "config":
			return "Alert e-mail is not configured"
		case "recipients":
			return "No one receives alert e-mail"
		}
		return "Alert e-mail is not being delivered"
	}
	return rule + ": " + subject
}

// ScheduleNames maps "schedule:ID" subjects to schedule names.
func ScheduleNames(ctx context.Context, q *queries.Queries) (map[string]string, error) {
	rows, err := q.ScheduleList(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range rows {
		out["schedule:"+strconv.FormatInt(s.ID, 10)] = s.Name
	}
	return out, nil
}
