package mail

import (
	"context"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/queries"
)

// SubjectPrefix starts every subject so clinic staff can filter pisbackup's mail.
const SubjectPrefix = "[USC-PIS] "

// Templates name what an e-mail is, for the log and for tests.
const (
	TemplateAlertOpened    = "alert_opened"
	TemplateAlertReminder  = "alert_reminder"
	TemplateAlertRecovered = "alert_recovered"
	TemplateTest           = "test"
)

// Record stores m as an emails row. Without a SendGrid key it goes to the development outbox and is final at
// once; otherwise it is queued and the caller must enqueue its delivery job in the same transaction.
func Record(ctx context.Context, q *queries.Queries, cfg *config.Config, m Message, template string, alertID *int64, now time.Time) (queries.Email, error) {
	if len(m.To) == 0 {
		return queries.Email{}, fmt.Errorf("e-mail has no recipients")
	}
	if !strings.HasPrefix(m.Subject, SubjectPrefix) {
		m.Subject = SubjectPrefix + m.Subject
	}
	// An alert quotes errors; whatever a caller forgot, no configured secret leaves in an e-mail.
	m.Subject, m.Text, m.HTML = cfg.Scrub(m.Subject), cfg.Scrub(m.Text), cfg.Scrub(m.HTML)
	p := queries.EmailInsertParams{ToAddrs: m.To, Subject: m.Subject, Template: template, HtmlBody: m.HTML,
		TextBody: m.Text, Provider: "sendgrid", Status: "queued", AlertID: alertID, CreatedAt: now}
	if !cfg.EmailConfigured() {
		p.Provider, p.Status, p.SentAt = "outbox", "sent", &now
	}
	return q.EmailInsert(ctx, p)
}

// Recipients are BACKUP_ALERT_EMAIL plus the admins who opted in, without duplicates (case-insensitively).
func Recipients(ctx context.Context, q *queries.Queries, cfg *config.Config) ([]string, error) {
	admins, err := q.UserAlertRecipients(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range append(append([]string{}, cfg.AlertEmails...), admins...) {
		k := strings.ToLower(strings.TrimSpace(a))
		if p, err := netmail.ParseAddress(a); err == nil {
			k = strings.ToLower(p.Address) // "Head <h@x>" and "h@x" are one recipient
		}
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, strings.TrimSpace(a))
		}
	}
	return out, nil
}

// CheckAddress accepts one bare address (no display name), the form the test-email command and API take.
func CheckAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", fmt.Errorf("%q is not an e-mail address like name@example.org", s)
	}
	return s, nil
}
