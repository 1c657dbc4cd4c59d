package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views/emails"
)

// notify records one e-mail per notice and marks the alert notified, all inside the evaluation's transaction.
func (e *Engine) notify(ctx context.Context, tx pgx.Tx, q *queries.Queries, notices []notice, out *Outcome) error {
	if len(notices) == 0 {
		return nil
	}
	now := e.now()
	to, err := mail.Recipients(ctx, q, e.Cfg)
	if err != nil {
		return err
	}
	base, err := Base(ctx, q, e.Cfg, now)
	if err != nil {
		return err
	}
	for _, n := range notices {
		if n.kind != "recovered" {
			if err := q.AlertNotified(ctx, queries.AlertNotifiedParams{ID: n.alert.ID, Now: now}); err != nil {
				return err
			}
		}
		if len(to) == 0 {
			e.log().Warn("alert not e-mailed", "rule", n.alert.Rule, "subject", n.alert.Subject, "reason", errNoRecipients)
			continue
		}
		vm := base
		vm.Kind = n.kind
		about := IssueOf(n.alert, e.Cfg)
		vm.About = &about
		vm.Open = nil
		for _, i := range base.Open {
			if i.AlertID != n.alert.ID {
				vm.Open = append(vm.Open, i)
			}
		}
		vm.Headline = headline(n.kind, n.alert)
		text, html, err := emails.Render(ctx, vm)
		if err != nil {
			return err
		}
		id := n.alert.ID
		row, err := mail.Record(ctx, q, e.Cfg, mail.Message{To: to, Subject: vm.Headline, Text: text, HTML: html},
			template(n.kind), &id, now)
		if err != nil {
			return err
		}
		if row.Provider == "sendgrid" {
			if e.Deliver == nil {
				return errors.New("alert: no delivery job configured for SendGrid e-mail")
			}
			if err := e.Deliver(ctx, tx, row.ID); err != nil {
				return err
			}
		}
		out.Emails = append(out.Emails, row)
	}
	return nil
}

func headline(kind string, a queries.Alert) string {
	switch kind {
	case "reminder":
		return "Still open: " + a.Title
	case "recovered":
		return "Recovered: " + a.Title
	}
	if a.Severity == "critical" {
		return "Alert: " + a.Title
	}
	return "Warning: " + a.Title
}

func template(kind string) string {
	switch kind {
	case "reminder":
		return mail.TemplateAlertReminder
	case "recovered":
		return mail.TemplateAlertRecovered
	}
	return mail.TemplateAlertOpened
}

// Base fills everything an e-mail shows except what it is about: overall status, open issues, backup
// statistics and links. The test e-mail uses it too, so a test shows real numbers.
func Base(ctx context.Context, q *queries.Queries, cfg *config.Config, now time.Time) (emails.AlertVM, error) {
	vm := emails.AlertVM{Status: "ok", DashboardURL: cfg.BaseURL.JoinPath("/").String(),
		AlertsURL: cfg.BaseURL.JoinPath("alerts").String(), When: now.In(cfg.DisplayTZ).Format("2006-01-02 15:04 UTC-07:00")}
	open, err := q.AlertListOpen(ctx)
	if err != nil {
		return vm, err
	}
	sort.SliceStable(open, func(i, j int) bool { return rank(open[i].Severity) > rank(open[j].Severity) })
	for _, a := range open {
		vm.Open = append(vm.Open, IssueOf(a, cfg))
		if rank(a.Severity) > rank(vm.Status) {
			vm.Status = a.Severity
		}
	}
	vm.Stats, err = Stats(ctx, q, now)
	return vm, err
}

// Stats are the success counts and the newest good database backup's age.
func Stats(ctx context.Context, q *queries.Queries, now time.Time) (emails.Stats, error) {
	var s emails.Stats
	day, err := q.BackupOutcomesSince(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return s, err
	}
	week, err := q.BackupOutcomesSince(ctx, now.Add(-7*24*time.Hour))
	if err != nil {
		return s, err
	}
	s.Good24h, s.Total24h, s.Good7d, s.Total7d = day.Good, day.Total, week.Good, week.Total
	b, err := q.BackupLatestGood(ctx, "database")
	if err == nil && b.FinishedAt != nil {
		s.LastGoodDatabase = age(max(0, now.Sub(*b.FinishedAt)))
	} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return s, err
	}
	return s, nil
}

// IssueOf shows an alert row as an e-mail issue.
func IssueOf(a queries.Alert, cfg *config.Config) emails.Issue {
	d := ParseDetails(a.Details)
	return emails.Issue{AlertID: a.ID, Severity: a.Severity, Title: a.Title, Message: d.Message, Recommendation: d.Recommendation,
		Since: a.OpenedAt.In(cfg.DisplayTZ).Format("2006-01-02 15:04 UTC-07:00"), Occurrences: a.Occurrences}
}

func rank(sev string) int {
	switch sev {
	case "critical":
		return 3
	case "warning":
		return 2
	case "info":
		return 1
	}
	return 0
}

// age renders a duration coarsely, as staff read it in an e-mail ("41 min", "5 h", "3 d").
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}
