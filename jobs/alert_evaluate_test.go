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
	"github.com/uscpis/pisbackup/internal/dbconn"
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

// healthy makes every other rule of the recoverability state quiet, so a test sees only the alert it is about:
// a good database backup a drill proved, finished now; an active daily database schedule; a completed
// scheduler pass dated two days ahead (tests move their clock by a day; the scheduler must not look frozen).
func healthy(t *testing.T, b *testBundle) {
	t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(t, b.d.Pool.QueryRow(ctx, `INSERT INTO backups (kind, status, trigger, queued_at, started_at, finished_at)
		VALUES ('database', 'succeeded', 'manual', now(), now(), now()) RETURNING id`).Scan(&id))
	_, err := b.d.Pool.Exec(ctx, `INSERT INTO verifications (backup_id, level, status, finished_at, rto_ms) VALUES ($1, 'drill', 'succeeded', now(), 1000)`, id)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, `INSERT INTO schedules (name, kind, cadence, time_of_day, active) VALUES ('Daily', 'database', 'daily', '02:00', true)`)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, `INSERT INTO river_job (kind, args, max_attempts, state, finalized_at)
		VALUES ('schedule_tick', '{}', 1, 'completed', now() + interval '2 days')`)
	require.NoError(t, err)
}

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
	goodSource := b.source
	b.d.Cfg.Source = dbconn.MustParse("postgres://clinic:hunter2@127.0.0.1:1/pis?sslmode=disable")
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
	require.Contains(t, text, "Last 24 hours: 1 of 2 succeeded (50%)")
	require.Contains(t, text, "Newest good database backup: less than a minute ago")
	require.Contains(t, text, "At risk: The newest database backup (#2, schedule \"Nightly database\") failed")
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
	b.d.Cfg.Source = dbconn.MustParse(goodSource)
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

	// The worker's own periodic evaluation may get there first; either way one alert is open and nothing mailed.
	openRules := func() []string {
		rows, err := b.d.Q.AlertListOpen(ctx)
		require.NoError(t, err)
		var r []string
		for _, a := range rows {
			r = append(r, a.Rule+" "+a.Subject)
		}
		return r
	}
	_, out, err := EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	require.Equal(t, []string{alert.RuleEmailFailing + " sendgrid"}, openRules())
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
	require.Empty(t, openRules())
	require.Empty(t, out.Emails, "no recovery e-mail for a silent rule")
	require.Len(t, f.Requests(), 2, "only the two test messages ever reached SendGrid")
}
