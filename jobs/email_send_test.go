package jobs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/mail/mailtest"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

const testSendGridKey = "SG.test-key-must-never-leak"

// withSendGrid points the bundle's configuration at a fake SendGrid and makes retries fast.
func (b *testBundle) withSendGrid(t *testing.T, status func(n int) int) *mailtest.SendGrid {
	f := mailtest.NewSendGrid(t, testSendGridKey, status)
	b.d.Cfg.SendGridAPIKey, b.d.Cfg.SendGridAPIURL, b.d.Cfg.DefaultFromEmail = testSendGridKey, f.URL, mailtest.VerifiedSender
	b.d.Cfg.AlertEmails = []string{"oncall@clinic.example"}
	b.d.EmailRetryDelay = func(int) time.Duration { return 10 * time.Millisecond }
	// The worker's periodic alert evaluation would e-mail every problem of an empty catalog; these tests count
	// the e-mails of the one thing they are about.
	healthy(t, b)
	return f
}

func (b *testBundle) waitEmail(t *testing.T, id int64) queries.Email {
	t.Helper()
	var row queries.Email
	require.Eventually(t, func() bool {
		var err error
		row, err = b.d.Q.EmailGet(context.Background(), id)
		require.NoError(t, err)
		return row.Status != "queued"
	}, 30*time.Second, 20*time.Millisecond)
	return row
}

func testMessage() mail.Message {
	return mail.Message{To: []string{"staff@clinic.example"}, Subject: "Test", Text: "plain body", HTML: "<p>html body</p>"}
}

// 500, 500, then 202: one delivered e-mail, three attempts, SendGrid's message id stored.
func TestEmailRetriesServerErrorsThenDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withSendGrid(t, func(n int) int { return map[bool]int{true: 500, false: 202}[n <= 2] })
	client := b.startWorker(t)
	row, err := EnqueueEmail(context.Background(), b.d, client, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)
	require.Equal(t, "queued", row.Status)

	row = b.waitEmail(t, row.ID)
	require.Equal(t, "sent", row.Status, row.LastError)
	require.EqualValues(t, 3, row.Attempts)
	require.Equal(t, "msg-3", row.ProviderMessageID)
	require.NotNil(t, row.SentAt)
	require.Len(t, f.Requests(), 3)
	require.Len(t, f.Delivered(), 1)
	got := f.Delivered()[0]
	require.Equal(t, "[USC-PIS] Test", got.Body.Subject)
	require.Equal(t, "staff@clinic.example", got.Body.Personalizations[0].To[0].Email)
	require.Equal(t, b.d.Cfg.DefaultFromEmail, got.Body.From.Email)
	require.Equal(t, "plain body", got.Content("text/plain"))
	require.Equal(t, "<p>html body</p>", got.Content("text/html"))
	for _, r := range f.Requests() {
		require.NotContains(t, r.Raw, testSendGridKey)
	}
}

// A 400 is SendGrid refusing the message: final at once, recorded, never retried.
func TestEmailBadRequestIsFinal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withSendGrid(t, func(int) int { return 400 })
	client := b.startWorker(t)
	row, err := EnqueueEmail(context.Background(), b.d, client, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)

	row = b.waitEmail(t, row.ID)
	require.Equal(t, "failed", row.Status)
	require.EqualValues(t, 1, row.Attempts)
	require.Contains(t, row.LastError, "400")
	require.Contains(t, row.LastError, "verified Sender Identity")
	time.Sleep(500 * time.Millisecond) // a retry, if any, would come after 10 ms
	require.Len(t, f.Requests(), 1)
	var state string
	require.NoError(t, b.d.Pool.QueryRow(context.Background(),
		"SELECT state::text FROM river_job WHERE kind = 'email_send'").Scan(&state))
	require.Equal(t, "cancelled", state)
}

// SendGrid down for five minutes (test clock): the production backoff outlasts it and exactly one e-mail
// arrives, after as many attempts as the outage took.
func TestEmailSurvivesFiveMinuteOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	clock := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	outageEnds := clock.Add(5 * time.Minute)
	f := b.withSendGrid(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if clock.Before(outageEnds) {
			return 503
		}
		return 202
	})
	// Each retry waits the real schedule on the test clock and 1 ms on the wall clock.
	b.d.EmailRetryDelay = func(attempt int) time.Duration {
		mu.Lock()
		clock = clock.Add(EmailBackoff(attempt))
		mu.Unlock()
		return time.Millisecond
	}
	client := b.startWorker(t)
	row, err := EnqueueEmail(context.Background(), b.d, client, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)

	row = b.waitEmail(t, row.ID)
	require.Equal(t, "sent", row.Status, row.LastError)
	require.Len(t, f.Delivered(), 1)
	require.Greater(t, int(row.Attempts), 1)
	require.Len(t, f.Requests(), int(row.Attempts))
	require.Less(t, int(row.Attempts), EmailMaxAttempts, "the outage must end well before the attempts do")
}

// Without a key, e-mail lands in the outbox, final at once, and no job is needed.
func TestEmailWithoutKeyGoesToOutbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	row, err := EnqueueEmail(context.Background(), b.d, nil, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)
	require.Equal(t, "outbox", row.Provider)
	require.Equal(t, "sent", row.Status)
	rows, err := b.d.Q.EmailListOutbox(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.True(t, strings.HasPrefix(rows[0].Subject, "[USC-PIS] "))
}

// The default sender can never be verified in SendGrid: its 403 is final and becomes a critical configuration
// alert naming the address to verify.
func TestEmailUnverifiedSenderIsAConfigurationAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withSendGrid(t, func(int) int { return 202 })
	b.d.Cfg.DefaultFromEmail = "USC-PIS <noreply@usc-pis.herokuapp.com>"
	client := b.startWorker(t)
	row, err := EnqueueEmail(context.Background(), b.d, client, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)
	row = b.waitEmail(t, row.ID)
	require.Equal(t, "failed", row.Status)
	require.EqualValues(t, 1, row.Attempts, "a 403 is not retried")
	require.Len(t, f.Refused(), 1)
	require.Equal(t, 403, f.Refused()[0].Status)
	st, err := recovery.Evaluate(context.Background(), recovery.Inputs{Q: b.d.Q, Cfg: b.d.Cfg, Now: time.Now()})
	require.NoError(t, err)
	var conds []recovery.Problem
	for _, p := range st.Problems {
		if p.Rule == alert.RuleEmailFailing {
			conds = append(conds, p)
		}
	}
	require.Len(t, conds, 1)
	require.Equal(t, "critical", conds[0].Severity)
	require.Contains(t, conds[0].Message, "verify noreply@usc-pis.herokuapp.com as a Sender Identity")
}
