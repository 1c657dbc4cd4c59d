package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/mail/mailtest"
)

// test-email delivers through SendGrid in-process, retrying a 500, and says so.
func TestTestEmailDeliversThroughSendGrid(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	f := mailtest.NewSendGrid(t, "SG.cli-key", func(n int) int { return map[bool]int{true: 500, false: 202}[n == 1] })
	env["SENDGRID_API_KEY"], env["SENDGRID_API_URL"], env["DEFAULT_FROM_EMAIL"] = "SG.cli-key", f.URL, mailtest.VerifiedSender
	out, stderr, code := runCLI(t, env, "test-email", "--email", "nurse@clinic.example", "--subject", "Hello", "--json")
	require.Equal(t, 0, code, stderr)
	var got []emailJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got, 1)
	require.Equal(t, "sent", got[0].Status)
	require.EqualValues(t, 2, got[0].Attempts)
	require.Equal(t, "msg-2", got[0].ProviderMessageID)
	require.Len(t, f.Delivered(), 1)
	d := f.Delivered()[0]
	require.Equal(t, "[USC-PIS] Hello", d.Body.Subject)
	require.Contains(t, d.Content("text/plain"), "This is a test message from pisbackup")
	require.Contains(t, d.Content("text/html"), "Overall status")
	require.NotContains(t, d.Raw, "SG.cli-key")
}

// A refused message makes the command fail with SendGrid's reason.
func TestTestEmailRefusedFails(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	f := mailtest.NewSendGrid(t, "SG.cli-key", func(int) int { return 400 })
	env["SENDGRID_API_KEY"], env["SENDGRID_API_URL"], env["DEFAULT_FROM_EMAIL"] = "SG.cli-key", f.URL, mailtest.VerifiedSender
	_, stderr, code := runCLI(t, env, "test-email", "--email", "nurse@clinic.example")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "FAILED after 1 attempt(s): SendGrid answered 400")
	require.Len(t, f.Requests(), 1)
}

// Without a key the message lands in the outbox; a bad address is a usage error.
func TestTestEmailOutboxAndBadAddress(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	out, stderr, code := runCLI(t, env, "test-email", "--email", "nurse@clinic.example")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "written to the development outbox")
	_, stderr, code = runCLI(t, env, "test-email", "--email", "not-an-address")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "not an e-mail address")
	_, _, code = runCLI(t, env, "test-email")
	require.Equal(t, 2, code)
}

// monitor-backups --send-alerts works with no worker: a failed create-backup's alert and the monitor's own
// findings are e-mailed in-process, once; running it again sends nothing new.
func TestMonitorBackupsSendAlerts(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	f := mailtest.NewSendGrid(t, "SG.cli-key", func(int) int { return 202 })
	env["SENDGRID_API_KEY"], env["SENDGRID_API_URL"], env["DEFAULT_FROM_EMAIL"] = "SG.cli-key", f.URL, mailtest.VerifiedSender
	env["BACKUP_ALERT_EMAIL"] = "oncall@clinic.example, Oncall@clinic.example"
	good := env["SOURCE_DATABASE_URL"]
	env["SOURCE_DATABASE_URL"] = "postgres://clinic:hunter2@127.0.0.1:1/pis?sslmode=disable"
	_, _, code := runCLI(t, env, "create-backup", "--type", "database")
	require.Equal(t, 1, code)
	require.Empty(t, f.Requests(), "create-backup queues the alert; it does not wait for e-mail")

	out, stderr, code := runCLI(t, env, "monitor-backups", "--send-alerts", "--json")
	require.Equal(t, 2, code, stderr) // critical: a failed backup and no worker
	var rep struct{ Status string }
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, "critical", rep.Status)
	subjects := map[string]int{}
	for _, r := range f.Delivered() {
		subjects[r.Body.Subject]++
		require.Len(t, r.Body.Personalizations[0].To, 1, "duplicate recipients are merged")
		require.NotContains(t, r.Raw, "hunter2")
		require.NotContains(t, r.Raw, "SG.cli-key")
	}
	// Every problem of the state, once; "e-mail failing" rules are never e-mailed (here none fires).
	require.Equal(t, map[string]int{
		"[USC-PIS] Alert: Backup failed: database backups":            1,
		"[USC-PIS] Alert: No good backup of the clinic database":      1,
		"[USC-PIS] Alert: The backup worker is not running":           1,
		"[USC-PIS] Alert: The scheduler is not running":               1,
		"[USC-PIS] Warning: No schedule backs up the clinic database": 1,
	}, subjects, stderr)

	_, stderr, code = runCLI(t, env, "monitor-backups", "--send-alerts")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "0 opened, 0 reminded, 0 resolved; 0 e-mail(s)")
	require.Len(t, f.Requests(), 5)

	env["SOURCE_DATABASE_URL"] = good
	_, stderr, code = runCLI(t, env, "create-backup", "--type", "database")
	require.Equal(t, 0, code, stderr)
	_, stderr, _ = runCLI(t, env, "monitor-backups", "--send-alerts")
	var later []string
	for _, r := range f.Delivered()[5:] {
		later = append(later, r.Body.Subject)
	}
	// The good backup clears "failed" and "no good backup"; it is not yet proven by a drill, which is new.
	require.ElementsMatch(t, []string{"[USC-PIS] Recovered: Backup failed: database backups",
		"[USC-PIS] Recovered: No good backup of the clinic database",
		"[USC-PIS] Warning: No backup proven by a restore drill"}, later, stderr)
}
