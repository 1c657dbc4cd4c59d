package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/recovery"
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
	base, err := Base(ctx, q, e.Cfg, now, e.InWorker)
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

// Base fills everything an e-mail shows except what it is about: the recoverability state (status and
// headline, the same the dashboard shows), open issues, backup statistics and links. The test e-mail uses it
// too, so a test shows real numbers.
func Base(ctx context.Context, q *queries.Queries, cfg *config.Config, now time.Time, inWorker bool) (emails.AlertVM, error) {
	vm := emails.AlertVM{DashboardURL: cfg.BaseURL.JoinPath("/").String(),
		AlertsURL: cfg.BaseURL.JoinPath("alerts").String(), When: now.In(cfg.DisplayTZ).Format("2006-01-02 15:04 UTC-07:00")}
	st, err := recovery.Evaluate(ctx, recovery.Inputs{Q: q, Cfg: cfg, Now: now})
	if err != nil {
		return vm, err
	}
	if inWorker {
		st = st.Without(recovery.RuleWorkerNotRunning)
	}
	vm.Status, vm.Verdict = st.Status, st.Label+": "+st.Headline
	open, err := q.AlertListOpen(ctx)
	if err != nil {
		return vm, err
	}
	sort.SliceStable(open, func(i, j int) bool { return rank(open[i].Severity) > rank(open[j].Severity) })
	for _, a := range open {
		vm.Open = append(vm.Open, IssueOf(a, cfg))
	}
	vm.Stats = Stats(st)
	return vm, nil
}

// Stats are the state's success counts and the newest good and proven database backups' ages.
func Stats(st recovery.State) emails.Stats {
	s := emails.Stats{Good24h: st.Stats.Good24h, Total24h: st.Stats.Finished24h, Good7d: st.Stats.Good7d, Total7d: st.Stats.Finished7d}
	db := st.Kinds["database"]
	if db.NewestGood != nil {
		s.LastGoodDatabase = age(max(0, time.Duration(db.NewestGood.AgeSeconds*float64(time.Second))))
	}
	if db.NewestProven != nil {
		s.LastProvenDatabase = age(max(0, time.Duration(db.NewestProven.AgeSeconds*float64(time.Second))))
	}
	return s
}

// IssueOf shows an alert row as an e-mail issue.
func IssueOf(a queries.Alert, cfg *config.Config) emails.Issue {
	d := ParseDetails(a.Details)
	return emails.Issue{AlertID: a.ID, Severity: a.Severity, Title: a.Title, Message: d.Message, Recommendation: d.Recommendation,
		Link:  strings.TrimSuffix(cfg.BaseURL.String(), "/") + LinkOf(a.Subject, a.Details),
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
