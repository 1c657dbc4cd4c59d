package recovery

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/queries"
)

// EmailStatus is the deliverability of alert e-mail, part of every State, and what the alerts page and
// GET /api/v1/email/status show. It names no addresses and no key, only whether they are set.
type EmailStatus struct {
	// Configured is false while SENDGRID_API_KEY is unset: e-mail then goes to the development outbox and the
	// dashboard must say that alerts reach nobody.
	Configured bool   `json:"configured"`
	Provider   string `json:"provider"` // sendgrid or outbox
	// KeySource says which variable the SendGrid key came from, or why EMAIL_HOST_PASSWORD was not taken.
	KeySource string `json:"key_source,omitempty"`
	From      string `json:"from"`
	// Recipients counts BACKUP_ALERT_EMAIL addresses plus opted-in admins; zero means alerts reach nobody.
	Recipients int `json:"recipients"`
	// Failing is true while the newest SendGrid e-mail failed (the "e-mail delivery failing" alert).
	Failing   bool   `json:"failing"`
	LastError string `json:"last_error,omitempty"`
	// LastFailedID is the failed e-mail's id while Failing (the alert's event).
	LastFailedID int64 `json:"last_failed_id,omitempty"`
	// LastSentAt is when SendGrid last accepted an e-mail; outbox messages never count.
	LastSentAt *time.Time `json:"last_sent_at,omitempty"`
	Sent24h    int64      `json:"sent_24h"`
	Failed24h  int64      `json:"failed_24h"`
	Queued24h  int64      `json:"queued_24h"`
}

// Problem is the one sentence the dashboard shows when alert e-mail cannot reach anyone, or "" when it can.
func (s EmailStatus) Problem() string {
	switch {
	case !s.Configured && s.KeySource != "":
		return "E-mail is not configured (" + s.KeySource + "): alerts go to the development outbox only."
	case !s.Configured:
		return "E-mail is not configured (SENDGRID_API_KEY is unset): alerts go to the development outbox only."
	case s.Recipients == 0:
		return "No one receives alerts: set BACKUP_ALERT_EMAIL or let an administrator opt in."
	case s.Failing:
		return "Alert e-mail is failing: " + s.LastError
	}
	return ""
}

// Email reports the state of alert e-mail at now.
func Email(ctx context.Context, q *queries.Queries, cfg *config.Config, now time.Time) (EmailStatus, error) {
	s := EmailStatus{Configured: cfg.EmailConfigured(), Provider: "outbox", From: cfg.DefaultFromEmail, KeySource: cfg.SendGridKeySource}
	if s.Configured {
		s.Provider = "sendgrid"
	}
	to, err := mail.Recipients(ctx, q, cfg)
	if err != nil {
		return s, err
	}
	s.Recipients = len(to)
	c, err := q.EmailCountsSince(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return s, err
	}
	s.Sent24h, s.Failed24h, s.Queued24h = c.Sent, c.Failed, c.Queued
	last, err := q.EmailLatestFinal(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	} else if err != nil {
		return s, err
	}
	if last.Status == "failed" {
		s.Failing, s.LastError, s.LastFailedID = true, last.LastError, last.ID
	}
	if s.LastSentAt, err = q.EmailLastSent(ctx); errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return s, err
}
