package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &EmailSendWorker{D: d}) })
}

// EmailMaxAttempts bounds delivery: with EmailBackoff that keeps trying for about seven hours, long enough to
// ride out a SendGrid outage but not so long that a stale alert arrives a day late.
const EmailMaxAttempts = 12

// EmailSendArgs is the "email_send" job: deliver one emails row through SendGrid. It carries the row's id only;
// addresses and bodies stay in the table and the API key in configuration.
type EmailSendArgs struct {
	EmailID int64 `json:"email_id"`
}

// Kind names the job in River.
func (EmailSendArgs) Kind() string { return "email_send" }

// InsertOpts puts e-mail on its own queue so a long backup never delays an alert.
func (EmailSendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEmail, MaxAttempts: EmailMaxAttempts}
}

// EmailSendWorker delivers e-mails.
type EmailSendWorker struct {
	river.WorkerDefaults[EmailSendArgs]
	D *Deps
}

// EmailBackoff is the wait after failed attempt n: 30 s doubling to at most an hour.
func EmailBackoff(attempt int) time.Duration {
	d := 30 * time.Second << min(max(attempt-1, 0), 7)
	return min(d, time.Hour)
}

// NextRetry applies EmailBackoff (or the test override) instead of River's default.
func (w *EmailSendWorker) NextRetry(job *river.Job[EmailSendArgs]) time.Time {
	delay := EmailBackoff
	if w.D.EmailRetryDelay != nil {
		delay = w.D.EmailRetryDelay
	}
	return time.Now().Add(delay(job.Attempt))
}

// Timeout covers one HTTP request with margin.
func (w *EmailSendWorker) Timeout(*river.Job[EmailSendArgs]) time.Duration { return time.Minute }

// Work makes one attempt. Rate limits and server errors return an error so River retries with backoff; any
// other refusal is final (river.JobCancel) and recorded on the row. The last allowed attempt also records
// the row as failed, so no row stays "queued" after its job gave up.
func (w *EmailSendWorker) Work(ctx context.Context, job *river.Job[EmailSendArgs]) error {
	d := w.D
	row, err := d.Q.EmailAttempt(ctx, job.Args.EmailID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // already sent or failed (a duplicate job), or deleted
	} else if err != nil {
		return err
	}
	if row.Provider != "sendgrid" || !d.Cfg.EmailConfigured() {
		err := errors.New("SENDGRID_API_KEY is not set in the worker; the e-mail was not sent")
		if ferr := d.Q.EmailFailed(ctx, queries.EmailFailedParams{ID: row.ID, LastError: err.Error()}); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	msgID, err := mail.NewClient(d.Cfg).Send(ctx, mail.Message{To: row.ToAddrs, Subject: row.Subject, Text: row.TextBody, HTML: row.HtmlBody})
	wctx := context.WithoutCancel(ctx)
	if err == nil {
		d.Log.Info("e-mail sent", "email_id", row.ID, "attempt", row.Attempts, "message_id", msgID)
		return d.Q.EmailSent(wctx, queries.EmailSentParams{ID: row.ID, ProviderMessageID: msgID, SentAt: d.now()})
	}
	var se *mail.SendError
	retry := !errors.As(err, &se) || se.Retryable
	if !retry || job.Attempt >= job.MaxAttempts {
		d.Log.Warn("e-mail failed", "email_id", row.ID, "attempts", row.Attempts, "error", err)
		if ferr := d.Q.EmailFailed(wctx, queries.EmailFailedParams{ID: row.ID, LastError: d.Cfg.ScrubErr(err)}); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	if rerr := d.Q.EmailRetrying(wctx, queries.EmailRetryingParams{ID: row.ID, LastError: d.Cfg.ScrubErr(err)}); rerr != nil {
		return rerr
	}
	return fmt.Errorf("attempt %d of %d: %w", job.Attempt, job.MaxAttempts, err)
}

// EnqueueEmail records m and, for SendGrid, its delivery job in one transaction (both or neither); outbox
// e-mail needs no job.
func EnqueueEmail(ctx context.Context, d *Deps, client *river.Client[pgx.Tx], m mail.Message, template string, alertID *int64) (queries.Email, error) {
	var row queries.Email
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		var err error
		row, err = mail.Record(ctx, queries.New(tx), d.Cfg, m, template, alertID, d.now())
		if err != nil || row.Provider != "sendgrid" {
			return err
		}
		return EmailDeliverer(client)(ctx, tx, row.ID)
	})
	return row, err
}

// EmailDeliverer inserts email_send jobs with client; it is what alert.Engine.Deliver expects.
func EmailDeliverer(client *river.Client[pgx.Tx]) func(ctx context.Context, tx pgx.Tx, emailID int64) error {
	return func(ctx context.Context, tx pgx.Tx, emailID int64) error {
		if client == nil {
			return errors.New("no job client to deliver e-mail with")
		}
		_, err := client.InsertTx(ctx, tx, EmailSendArgs{EmailID: emailID}, nil)
		return err
	}
}
