package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
)

// dashboardState inserts backups and drills straight into the catalog; ages are SQL intervals before now().
type dashboardState struct {
	name    string
	seed    func(t *testing.T, e *authEnv)
	level   string
	label   string
	text    []string // fragments of the headline sentence, in order
	rpo     string
	rto     string
	noProof bool
}

// seedBackup inserts a finished database backup queued a few minutes before it finished, returning its id.
func seedBackup(t *testing.T, e *authEnv, status, finishedAgo string) int64 {
	t.Helper()
	var id int64
	err := e.d.Pool.QueryRow(context.Background(), `INSERT INTO backups (kind, status, trigger, format, queued_at, started_at, finished_at, error)
		VALUES ('database', $1, 'manual', 'x', now() - $2::interval - interval '2 minutes', now() - $2::interval - interval '2 minutes',
		        now() - $2::interval, CASE WHEN $1 = 'failed' THEN 'pg_dump: connection refused' ELSE '' END) RETURNING id`,
		status, finishedAgo).Scan(&id)
	require.NoError(t, err)
	return id
}

// seedDrill records a succeeded drill of backup id that took rtoMs.
func seedDrill(t *testing.T, e *authEnv, id, rtoMs int64) {
	t.Helper()
	_, err := e.d.Pool.Exec(context.Background(), `INSERT INTO verifications (backup_id, level, status, queued_at, started_at, finished_at, duration_ms, rto_ms)
		VALUES ($1, 'drill', 'succeeded', now(), now(), now(), $2, $2)`, id, rtoMs)
	require.NoError(t, err)
}

// quietInfra makes what is not about backups healthy: a completed scheduler pass, the worker's health metric,
// SendGrid with a recipient, and a daily database schedule created five days ago (its deadline: the newest good
// backup plus 25 h).
func quietInfra(t *testing.T, e *authEnv) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO river_job (kind, args, max_attempts, state, finalized_at) VALUES ('schedule_tick', '{}', 1, 'completed', now())`,
		`INSERT INTO health_metrics (metric, value, unit) VALUES ('monitor_status', 0, 'level')`,
		`INSERT INTO schedules (name, kind, cadence, time_of_day, active, created_at) VALUES ('Nightly', 'database', 'daily', '02:00', true, now() - interval '5 days')`,
	} {
		_, err := e.d.Pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	e.d.Cfg.SendGridAPIKey, e.d.Cfg.AlertEmails = "SG.test", []string{"ops@clinic.test"}
}

// The headline is right for each state a clinic can be in, as a signed-in viewer sees it on GET /: the heading
// is the state's label and the sentence never speaks with another level's words.
func TestDashboardVerdictStates(t *testing.T) {
	t.Parallel()
	states := []dashboardState{
		{name: "never backed up", seed: func(*testing.T, *authEnv) {}, level: "red", label: "At risk",
			text: []string{"No good backup of the clinic database exists yet."}, noProof: true},
		{name: "backed up, never drilled", seed: func(t *testing.T, e *authEnv) { seedBackup(t, e, "succeeded", "2 hours") },
			level: "amber", label: "Needs attention",
			text: []string{"(#1, 2 h ago) succeeded, but neither it nor any other backup has been restored in a drill"}, noProof: true},
		{name: "drilled and fresh", seed: func(t *testing.T, e *authEnv) {
			seedDrill(t, e, seedBackup(t, e, "succeeded", "3 hours"), 41000)
		}, level: "green", label: "Recoverable",
			text: []string{"Last proven restore point 3 h ago (drill took 41 s)."}, rpo: "(3 h ago)", rto: "41 s"},
		{name: "stale", seed: func(t *testing.T, e *authEnv) {
			seedDrill(t, e, seedBackup(t, e, "succeeded", "3 days"), 41000)
		}, level: "red", label: "At risk",
			text: []string{`Schedule "Nightly" is overdue`, "Last proven restore point 3 d ago"}, rpo: "(3 d ago)", rto: "41 s"},
		{name: "stale, never drilled", seed: func(t *testing.T, e *authEnv) { seedBackup(t, e, "succeeded", "3 days") },
			level: "red", label: "At risk",
			text: []string{`Schedule "Nightly" is overdue`, "No backup has been proven by a restore drill yet."}, noProof: true},
		{name: "last backup failed", seed: func(t *testing.T, e *authEnv) {
			seedDrill(t, e, seedBackup(t, e, "succeeded", "20 hours"), 41000)
			seedBackup(t, e, "failed", "1 hour")
		}, level: "red", label: "At risk",
			text: []string{"The newest database backup (#2) failed: pg_dump: connection refused", "Last proven restore point 20 h ago (drill took 41 s)."},
			rpo:  "(20 h ago)", rto: "41 s"},
		{name: "failed, nothing proven", seed: func(t *testing.T, e *authEnv) { seedBackup(t, e, "failed", "1 hour") },
			level: "red", label: "At risk", text: []string{"The newest database backup (#1) failed"}, noProof: true},
		{name: "drilled, then its checksum failed", seed: func(t *testing.T, e *authEnv) {
			id := seedBackup(t, e, "succeeded", "3 hours")
			seedDrill(t, e, id, 41000)
			_, err := e.d.Pool.Exec(context.Background(), `INSERT INTO verifications (backup_id, level, status, finished_at, error)
				VALUES ($1, 'checksum', 'failed', now(), 'SHA-256 mismatch')`, id)
			require.NoError(t, err)
		}, level: "red", label: "At risk", text: []string{"Database backup #1 failed its checksum verification: SHA-256 mismatch"}, noProof: true},
	}
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			e := newAuthEnv(t, false)
			quietInfra(t, e)
			s.seed(t, e)
			c, resp := e.login(t, "viewer@clinic.test", testPassword)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			resp, body := e.req(t, c, "GET", "/", "", "")
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
			require.NoError(t, err)

			v := doc.Find("[data-testid=verdict]")
			require.Equal(t, 1, v.Length(), body)
			level, _ := v.Attr("data-level")
			require.Equal(t, s.level, level)
			// Status is told in words, not by colour alone.
			require.Equal(t, s.label, strings.TrimSpace(v.Find(".verdict-label").Text()))
			sentence := strings.TrimSpace(doc.Find("[data-testid=verdict-sentence]").Text())
			for _, other := range []string{"At risk", "Needs attention", "Recoverable", "Not recoverable", "Unproven", "Stale"} {
				require.False(t, strings.HasPrefix(sentence, other), "the sentence %q speaks with a level's word", sentence)
			}
			rest := sentence
			for _, frag := range s.text {
				i := strings.Index(rest, frag)
				require.GreaterOrEqual(t, i, 0, "%q not in %q", frag, sentence)
				rest = rest[i+len(frag):]
			}

			rpo := strings.Join(strings.Fields(doc.Find("[data-testid=rpo]").Text()), " ")
			rto := strings.Join(strings.Fields(doc.Find("[data-testid=rto]").Text()), " ")
			if s.noProof {
				require.Equal(t, "none yet: run a drill on a backup", rpo)
				require.Equal(t, "unknown until a drill runs", rto)
				return
			}
			require.Contains(t, rpo, s.rpo)
			href, ok := doc.Find("[data-testid=rpo] a").Attr("href")
			require.True(t, ok)
			require.Regexp(t, `^/backups/\d+$`, href)
			require.Equal(t, s.rto, rto)
		})
	}
}

// The e-mail line says why alerts reach nobody (no key, no recipients, SendGrid refusing) and links to what fixes
// it; a viewer sees no "Back up now".
func TestDashboardEmailLineAndViewerButtons(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	c, _ := e.login(t, "viewer@clinic.test", testPassword)
	emailLine := func() (text, href string, doc *goquery.Document) {
		t.Helper()
		resp, body := e.req(t, c, "GET", "/", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		require.NoError(t, err)
		var line *goquery.Selection
		doc.Find("[data-testid=config] li").Each(func(_ int, li *goquery.Selection) {
			if strings.Contains(li.Find("strong").Text(), "E-mail") {
				line = li
			}
		})
		require.NotNil(t, line, body)
		href, _ = line.Find("a").Attr("href")
		return strings.Join(strings.Fields(line.Text()), " "), href, doc
	}

	text, href, doc := emailLine()
	require.Contains(t, text, "CHECK")
	require.Contains(t, text, "E-mail is not configured (SENDGRID_API_KEY is unset)")
	require.Equal(t, "/outbox", href)
	require.Zero(t, doc.Find("[data-testid=backup-now]").Length(), "viewer must not see Back up now")
	// The same page for an operator offers the button, so the check above can fail.
	require.Equal(t, 1, e.page(t, auth.Operator, "/").Find("[data-testid=backup-now]").Length())

	// A key alone is not enough: nobody would receive the alerts.
	e.d.Cfg.SendGridAPIKey = "SG.dashboard-key"
	text, href, _ = emailLine()
	require.Contains(t, text, "CHECK")
	require.Contains(t, text, "No one receives alerts")
	require.Equal(t, "/profile", href)

	// An admin opting in makes it whole.
	_, err := e.d.Pool.Exec(context.Background(), "UPDATE users SET alert_opt_in = true WHERE id = $1", e.users[auth.Admin].ID)
	require.NoError(t, err)
	text, href, _ = emailLine()
	require.Contains(t, text, "OK E-mail: SendGrid")
	require.NotContains(t, text, "CHECK")
	require.Empty(t, href)

	// The newest SendGrid message failing turns it back into a problem.
	_, err = e.d.Pool.Exec(context.Background(), `INSERT INTO emails (to_addrs, subject, template, provider, status, attempts, last_error)
		VALUES ('{admin@clinic.test}', 'x', 'alert', 'sendgrid', 'failed', 5, 'SendGrid refused the API key (401)')`)
	require.NoError(t, err)
	text, href, _ = emailLine()
	require.Contains(t, text, "CHECK E-mail: delivery failing")
	require.Contains(t, text, "Alert e-mail is failing: SendGrid refused the API key (401)")
	require.Equal(t, "/alerts", href)
}

// The dashboard's "last backup of each kind" is what pisbackup made: a newer upload (which never counts as the
// clinic's recovery point) does not take its place.
func TestLastBackupOfEachKindLeavesOutUploads(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	made := seedBackup(t, e, "succeeded", "3 hours")
	var upload int64
	require.NoError(t, e.d.Pool.QueryRow(context.Background(), `INSERT INTO backups (kind, status, trigger, format, queued_at, started_at, finished_at)
		VALUES ('database', 'succeeded', 'upload', 'x', now(), now(), now()) RETURNING id`).Scan(&upload))
	_, body := e.req(t, nil, "GET", "/", e.tokens[auth.Viewer], "")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	last := doc.Find(`[data-testid="last-database"]`).Text()
	require.Contains(t, last, "#"+idText(made))
	require.NotContains(t, last, "#"+idText(upload))
}
