package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("test-email", "send a test alert e-mail through the configured path (SendGrid or the outbox)", cmdTestEmail)
}

func cmdTestEmail(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "test-email", "--email ADDR [--subject S] [--timeout 1m] [--json]")
	addr := fs.String("email", "", "recipient address (required)")
	subject := fs.String("subject", "", "subject after the [USC-PIS] prefix (default: Test e-mail from pisbackup)")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for delivery, retries included")
	asJSON := fs.Bool("json", false, "print the e-mail's delivery record as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	to, err := mail.CheckAddress(*addr)
	if *addr == "" {
		return usageErr("--email is required")
	} else if err != nil {
		return usageErr("--email: " + err.Error())
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	if !*asJSON && a.cfg.SendGridKeySource != "" {
		fmt.Fprintf(e.stdout, "SendGrid key: %s; sender %s\n", a.cfg.SendGridKeySource, a.cfg.DefaultFromEmail)
	}
	d := a.mailDeps()
	msg, err := alert.TestMessage(ctx, d.Q, a.cfg, to, *subject, time.Now())
	if err != nil {
		return err
	}
	client, stop, err := a.emailClient(ctx, d)
	if err != nil {
		return err
	}
	defer stop()
	row, err := jobs.EnqueueEmail(ctx, d, client, msg, mail.TemplateTest, nil)
	if err != nil {
		return err
	}
	rows, err := waitEmails(ctx, d.Q, []queries.Email{row}, *timeout)
	if err != nil {
		return err
	}
	return reportEmails(e, rows, *asJSON)
}

// mailDeps is what e-mail needs: no pg_dump, storage or keys, so test-email works on a machine with none.
func (a *app) mailDeps() *jobs.Deps {
	return &jobs.Deps{Pool: a.pool, Q: queries.New(a.pool), Cfg: a.cfg, Log: a.log, Started: time.Now(),
		// Someone is waiting at a terminal: retry within seconds; a worker resumes with the normal backoff.
		EmailRetryDelay: func(n int) time.Duration { return min(time.Second<<n, jobs.EmailBackoff(n)) }}
}

// emailClient works the shared e-mail queue in-process, so e-mail is delivered without a worker (and any
// other pending e-mail goes out too). It is started only when SendGrid is configured.
func (a *app) emailClient(ctx context.Context, d *jobs.Deps) (*river.Client[pgx.Tx], func(), error) {
	client, err := jobs.NewClient(d, jobs.Private, jobs.QueueEmail)
	if err != nil || !a.cfg.EmailConfigured() {
		return client, func() {}, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, nil, err
	}
	return client, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	}, nil
}

// waitEmails polls rows until none is queued or the timeout passes.
func waitEmails(ctx context.Context, q *queries.Queries, rows []queries.Email, timeout time.Duration) ([]queries.Email, error) {
	deadline := time.Now().Add(timeout)
	for {
		pending := false
		for i, r := range rows {
			if r.Status != "queued" {
				continue
			}
			cur, err := q.EmailGet(context.WithoutCancel(ctx), r.ID)
			if err != nil {
				return rows, err
			}
			rows[i] = cur
			pending = pending || cur.Status == "queued"
		}
		if !pending || time.Now().After(deadline) {
			return rows, nil
		}
		select {
		case <-ctx.Done():
			return rows, errors.New("interrupted; queued e-mail stays queued for the worker")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// emailJSON is the CLI's machine-readable delivery record (addresses and bodies left out).
type emailJSON struct {
	ID                int64  `json:"id"`
	Subject           string `json:"subject"`
	Provider          string `json:"provider"`
	Status            string `json:"status"`
	Attempts          int32  `json:"attempts"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	LastError         string `json:"last_error,omitempty"`
}

// reportEmails prints each row's outcome; any row not sent makes the command fail.
func reportEmails(e *env, rows []queries.Email, asJSON bool) error {
	failed := false
	out := make([]emailJSON, 0, len(rows))
	for _, r := range rows {
		failed = failed || r.Status != "sent"
		out = append(out, emailJSON{ID: r.ID, Subject: r.Subject, Provider: r.Provider, Status: r.Status,
			Attempts: r.Attempts, ProviderMessageID: r.ProviderMessageID, LastError: r.LastError})
		if asJSON {
			continue
		}
		switch {
		case r.Provider == "outbox":
			fmt.Fprintf(e.stdout, "e-mail #%d %q written to the development outbox (SENDGRID_API_KEY is not set); see /outbox\n", r.ID, r.Subject)
		case r.Status == "sent":
			fmt.Fprintf(e.stdout, "e-mail #%d %q sent through SendGrid after %d attempt(s), message id %s\n", r.ID, r.Subject, r.Attempts, r.ProviderMessageID)
		case r.Status == "failed":
			fmt.Fprintf(e.stderr, "e-mail #%d %q FAILED after %d attempt(s): %s\n", r.ID, r.Subject, r.Attempts, r.LastError)
		default:
			fmt.Fprintf(e.stderr, "e-mail #%d %q not delivered yet after %d attempt(s) (%s); it stays queued and a worker keeps retrying\n", r.ID, r.Subject, r.Attempts, r.LastError)
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if failed {
		return silentExit(1)
	}
	return nil
}
