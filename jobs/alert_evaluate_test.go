package jobs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/mail"
)

// testClock is a settable clock for the alert engine; backups themselves keep real time.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *testClock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Two failed backups of one schedule give one e-mail; a reminder only after ALERT_REMIND_AFTER; the next success
// one recovery e-mail; nothing else, however often the monitor runs in between.
func TestAlertBackupFailureLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	f := b.withSendGrid(t, func(int) int { return 202 })
	clock := &testClock{t: time.Now()}
	b.d.Now = clock.Now
	b.d.AfterBackup = append(b.d.AfterBackup, AlertOnBackup(b.d))
	goodSource := b.d.Cfg.SourceDatabaseURL
	b.d.Cfg.SourceDatabaseURL = "postgres://clinic:hunter2@127.0.0.1:1/pis?sslmode=disable"
	var schedID int64
	require.NoError(t, b.d.Pool.QueryRow(ctx,
		"INSERT INTO schedules (name, kind, cadence) VALUES ('Nightly database', 'database', 'manual') RETURNING id").Scan(&schedID))
	client := b.startWorker(t)
	backupOnce := func(want string) {
		t.Helper()
		row, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "schedule", ScheduleID: &schedID})
		require.NoError(t, err)
		fin := b.waitFinal(t, row.ID)
		require.Equal(t, want, fin.Status, fin.Error)
	}
	openAlert := func() (occurrences int32, open bool) {
		alerts, err := b.d.Q.AlertListOpen(ctx)
		require.NoError(t, err)
		for _, a := range alerts {
			if a.Rule == alert.RuleBackupFailed {
				return a.Occurrences, true
			}
		}
		return 0, false
	}
	settle := func(n int) { // the hook runs after the row is final; wait for its e-mails to be delivered
		t.Helper()
		require.Eventually(t, func() bool { return len(f.Delivered()) >= n }, 20*time.Second, 20*time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		require.Len(t, f.Delivered(), n)
	}

	backupOnce("failed")
	settle(1)
	backupOnce("failed")
	require.Eventually(t, func() bool { n, _ := openAlert(); return n == 2 }, 10*time.Second, 20*time.Millisecond)
	_, _, err := EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	settle(1)

	opened := f.Delivered()[0]
	require.True(t, strings.HasPrefix(opened.Body.Subject, "[USC-PIS] Alert: Backup failed"), opened.Body.Subject)
	require.Contains(t, opened.Body.Subject, "Nightly database")
	text, html := opened.Content("text/plain"), opened.Content("text/html")
	require.Contains(t, text, "Overall status: critical")
	require.Contains(t, text, "[CRITICAL] Backup failed")
	require.Contains(t, text, "Recommended:")
	require.Contains(t, text, "Last 24 hours: 0 of 1 succeeded (0%)")
	require.Contains(t, text, "Newest good database backup: none on record")
	require.Contains(t, text, b.d.Cfg.BaseURL.String()+"/")
	require.Contains(t, html, "Overall status:")
	require.Contains(t, html, `href="`+b.d.Cfg.BaseURL.JoinPath("alerts").String()+`"`)
	require.Equal(t, []string{"oncall@clinic.example"}, []string{opened.Body.Personalizations[0].To[0].Email})

	clock.Advance(b.d.Cfg.AlertRemindAfter - time.Minute)
	_, _, err = EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	settle(1)
	clock.Advance(2 * time.Minute)
	for range 2 {
		_, _, err = EvaluateAlerts(ctx, b.d, client, true)
		require.NoError(t, err)
	}
	settle(2)
	require.True(t, strings.HasPrefix(f.Delivered()[1].Body.Subject, "[USC-PIS] Still open: Backup failed"))

	// Back to real time: the reconciler shares this clock and would take a day-old heartbeat for a dead worker.
	clock.Set(time.Now())
	b.d.Cfg.SourceDatabaseURL = goodSource
	backupOnce("succeeded")
	settle(3)
	recovered := f.Delivered()[2]
	require.True(t, strings.HasPrefix(recovered.Body.Subject, "[USC-PIS] Recovered: Backup failed"), recovered.Body.Subject)
	require.Contains(t, recovered.Content("text/plain"), "Overall status: ok")
	_, open := openAlert()
	require.False(t, open)
	_, _, err = EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	settle(3)

	for _, r := range f.Requests() {
		require.NotContains(t, r.Raw, testSendGridKey)
		require.NotContains(t, r.Raw, "hunter2")
		require.NotEmpty(t, r.Content("text/plain"))
		require.NotEmpty(t, r.Content("text/html"))
	}
}

// E-mail delivery failing opens an alert that is shown but never e-mailed (it could not be), and clears silently.
// A queued row whose job is gone is marked failed rather than left "queued" forever.
func TestEmailFailingAlertIsShownNotEmailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	var refuse atomic.Bool
	refuse.Store(true)
	f := b.withSendGrid(t, func(int) int {
		if refuse.Load() {
			return 400
		}
		return 202
	})
	client := b.startWorker(t)
	row, err := EnqueueEmail(ctx, b.d, client, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)
	require.Equal(t, "failed", b.waitEmail(t, row.ID).Status)
	orphan, err := mail.Record(ctx, b.d.Q, b.d.Cfg, testMessage(), mail.TemplateTest, nil, time.Now().Add(-time.Hour))
	require.NoError(t, err)

	_, out, err := EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	require.Len(t, out.Opened, 1)
	require.Equal(t, alert.RuleEmailFailing, out.Opened[0].Rule)
	require.Empty(t, out.Emails)
	o, err := b.d.Q.EmailGet(ctx, orphan.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", o.Status)
	require.Contains(t, o.LastError, "delivery job ended")

	refuse.Store(false)
	row, err = EnqueueEmail(ctx, b.d, client, testMessage(), mail.TemplateTest, nil)
	require.NoError(t, err)
	require.Equal(t, "sent", b.waitEmail(t, row.ID).Status)
	_, out, err = EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	require.Len(t, out.Resolved, 1)
	require.Empty(t, out.Emails, "no recovery e-mail for a silent rule")
	require.Len(t, f.Requests(), 2, "only the two test messages ever reached SendGrid")
}
