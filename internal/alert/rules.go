package alert

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/monitor"
	"github.com/uscpis/pisbackup/queries"
)

// BackupSubject is the alert subject of a backup: its schedule, or its kind for runs nobody scheduled (the
// monitor's subjects, so an event and the next periodic check speak of the same alert).
func BackupSubject(b queries.Backup) string {
	if b.ScheduleID != nil {
		return "schedule:" + strconv.FormatInt(*b.ScheduleID, 10)
	}
	return "kind:" + b.Kind
}

// BackupFailed is the condition a failed backup raises the moment it fails. scheduleName may be empty.
func BackupFailed(b queries.Backup, scheduleName string) Condition {
	return Condition{Rule: RuleBackupFailed, Subject: BackupSubject(b), Severity: "critical",
		Title: Title(RuleBackupFailed, BackupSubject(b), scheduleName), Event: strconv.FormatInt(b.ID, 10),
		Message:        fmt.Sprintf("The newest %s backup (#%d) failed: %s", b.Kind, b.ID, firstLine(b.Error, 300)),
		Recommendation: "Open the backup's page for the full error, fix the cause, then use Back up now to confirm."}
}

// MediaMigrationFailed is the condition a migration run with failed files raises.
func MediaMigrationFailed(runID int64, failed int, errText string) Condition {
	msg := fmt.Sprintf("Media migration #%d ended with %d file(s) not uploaded or not verified.", runID, failed)
	if errText != "" {
		msg += " " + firstLine(errText, 200)
	}
	return Condition{Rule: RuleMediaMigration, Subject: "media_migration", Severity: "warning",
		Title: Title(RuleMediaMigration, "media_migration", ""), Event: strconv.FormatInt(runID, 10), Message: msg,
		Recommendation: "See the media page for the failed files and re-run the migration; verified files are skipped."}
}

// FromReport turns the monitor's problems into conditions; schedule names make the titles readable.
func FromReport(r monitor.Report, scheduleNames map[string]string) []Condition {
	var out []Condition
	for _, p := range r.Problems {
		out = append(out, Condition{Rule: p.Rule, Subject: p.Subject, Severity: p.Severity, Message: p.Message,
			Recommendation: p.Recommendation, Title: Title(p.Rule, p.Subject, scheduleNames[p.Subject])})
	}
	return out
}

// MonitorRules are the rules monitor.Evaluate checks for every subject.
var MonitorRules = []string{RuleBackupFailed, RuleBackupStale, RuleVerifyFailed, RuleStorageFull, RuleMonitorNotRunning}

// Title is an alert's one-line name: the e-mail subject after the prefix, and the alerts page's heading.
func Title(rule, subject, name string) string {
	what := subject
	if name != "" {
		what = fmt.Sprintf("schedule %q", name)
	} else if k, ok := strings.CutPrefix(subject, "kind:"); ok {
		what = k + " backups"
	}
	switch rule {
	case RuleBackupFailed:
		return "Backup failed: " + what
	case RuleBackupStale:
		return "Backup overdue: " + what
	case RuleVerifyFailed:
		return "Verification failed: " + strings.TrimPrefix(subject, "level:") + " check"
	case RuleStorageFull:
		return "Backup storage nearly full"
	case RuleMonitorNotRunning:
		return "The backup worker is not running"
	case RuleMediaMigration:
		return "Media migration to Cloudinary had failures"
	case RuleEmailFailing:
		return "Alert e-mail is not being delivered"
	}
	return rule + ": " + subject
}

// EvaluateOwn checks the rules the monitor does not: media migration failures and e-mail delivery. It returns
// what fires and the rules it checked (the scope to resolve in).
func EvaluateOwn(ctx context.Context, q *queries.Queries) ([]Condition, []string, error) {
	var out []Condition
	mm, err := q.MediaMigrationLatestFinished(ctx)
	if err == nil && (mm.Status == "failed" || mm.Failed > 0) {
		out = append(out, MediaMigrationFailed(mm.ID, int(mm.Failed), mm.Error))
	} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, err
	}
	em, err := q.EmailLatestFinal(ctx)
	if err == nil && em.Status == "failed" {
		c := Condition{Rule: RuleEmailFailing, Subject: "sendgrid", Severity: "warning",
			Title: Title(RuleEmailFailing, "sendgrid", ""), Event: strconv.FormatInt(em.ID, 10),
			Message:        "The newest alert e-mail could not be delivered: " + firstLine(em.LastError, 240),
			Recommendation: "Check SENDGRID_API_KEY, the sender's verification in SendGrid and DEFAULT_FROM_EMAIL; then send a test e-mail from the Alerts page."}
		if strings.Contains(em.LastError, mail.SenderNotVerified) {
			// SendGrid's 403: a configuration problem that no retry fixes; the error names the sender.
			c.Severity = "critical"
			c.Message = "SendGrid refuses every alert e-mail because the sender is not verified: " + firstLine(em.LastError, 400)
			c.Recommendation = "Verify the sender named above as a Sender Identity in SendGrid (Settings → Sender Authentication), or set DEFAULT_FROM_EMAIL to an address verified there; then send a test e-mail."
		}
		out = append(out, c)
	} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, err
	}
	return out, []string{RuleMediaMigration, RuleEmailFailing}, nil
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

func firstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "no error text recorded"
	}
	return s
}
