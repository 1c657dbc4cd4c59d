package alert_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// engine runs on a real catalog with e-mail in the outbox (no key), on a clock the test moves.
func engine(t *testing.T, vars map[string]string) (*alert.Engine, *queries.Queries, *time.Time) {
	pool, url := testdb.Catalog(t)
	vars["DATABASE_URL"] = url
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	return &alert.Engine{Pool: pool, Cfg: cfg, Now: func() time.Time { return now }}, queries.New(pool), &now
}

var storageFull = alert.Condition{Rule: alert.RuleStorageFull, Subject: "storage", Severity: "warning",
	Title: "Backup storage nearly full", Message: "4% free", Recommendation: "Prune"}

// Recipients are BACKUP_ALERT_EMAIL plus opted-in, enabled admins; reminders follow ALERT_REMIND_AFTER exactly.
func TestEngineRecipientsAndReminderCadence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, q, now := engine(t, map[string]string{"BACKUP_ALERT_EMAIL": "oncall@clinic.example", "ALERT_REMIND_AFTER": "6h"})
	for _, u := range []struct {
		email string
		role  auth.Role
		optIn bool
	}{{"boss@clinic.example", auth.Admin, true}, {"quiet@clinic.example", auth.Admin, false}, {"nurse@clinic.example", auth.Operator, true}} {
		row, err := auth.CreateUser(ctx, q, u.email, "", u.role, "correct horse battery")
		require.NoError(t, err)
		_, err = q.UserSetAlertOptIn(ctx, queries.UserSetAlertOptInParams{ID: row.ID, AlertOptIn: u.optIn})
		require.NoError(t, err)
	}
	out, err := e.Raise(ctx, storageFull)
	require.NoError(t, err)
	require.Len(t, out.Emails, 1)
	require.Equal(t, []string{"oncall@clinic.example", "boss@clinic.example"}, out.Emails[0].ToAddrs)
	require.Equal(t, "outbox", out.Emails[0].Provider)
	require.Equal(t, "[USC-PIS] Warning: Backup storage nearly full", out.Emails[0].Subject)

	for _, step := range []struct {
		advance   time.Duration
		reminders int
	}{{5*time.Hour + 59*time.Minute, 0}, {time.Minute, 1}, {time.Hour, 0}, {5 * time.Hour, 1}} {
		*now = now.Add(step.advance)
		out, err = e.Raise(ctx, storageFull)
		require.NoError(t, err)
		require.Len(t, out.Reminded, step.reminders, "after %s", step.advance)
		require.Len(t, out.Emails, step.reminders)
	}
}

// An event's scope resolves only its own subject; the rest stay open. No recipients: alerts are still kept.
func TestEngineScopeAndNoRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, q, _ := engine(t, map[string]string{})
	failed := func(s string) alert.Condition {
		return alert.Condition{Rule: alert.RuleBackupFailed, Subject: s, Title: "Backup failed: " + s, Event: "1"}
	}
	out, err := e.Apply(ctx, alert.ForRules(alert.RuleBackupFailed), []alert.Condition{failed("schedule:1"), failed("schedule:2"), storageFull})
	require.NoError(t, err)
	require.Len(t, out.Opened, 3)
	require.Empty(t, out.Emails, "nobody to tell")
	out, err = e.Clear(ctx, alert.RuleBackupFailed, "schedule:1")
	require.NoError(t, err)
	require.Len(t, out.Resolved, 1)
	open, err := q.AlertListOpen(ctx)
	require.NoError(t, err)
	require.Len(t, open, 2)
	// A periodic evaluation of backup_failed that finds nothing resolves schedule:2 but not storage.
	out, err = e.Apply(ctx, alert.ForRules(alert.RuleBackupFailed), nil)
	require.NoError(t, err)
	require.Len(t, out.Resolved, 1)
	require.Equal(t, "schedule:2", out.Resolved[0].Subject)
	open, err = q.AlertListOpen(ctx)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, alert.RuleStorageFull, open[0].Rule)
}
