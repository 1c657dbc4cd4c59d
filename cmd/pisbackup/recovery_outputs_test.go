package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/handlers"
	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// outputsEnv is one catalog seen through every output that answers "can we get our data back?": the web
// handlers (dashboard, /health, /readyz, /api/v1/health, /metrics), the CLI (monitor-backups --json), the alert
// evaluation and the alert e-mail body.
type outputsEnv struct {
	env    map[string]string
	pool   *pgxpool.Pool
	q      *queries.Queries
	d      *jobs.Deps
	srv    *httptest.Server
	client *river.Client[pgx.Tx]
	token  string
}

func newOutputsEnv(t *testing.T, extra map[string]string) *outputsEnv {
	t.Helper()
	ctx := context.Background()
	env := cliEnv(t)
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	pool, err := pgxpool.New(ctx, env["DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st, err := storage.Open(ctx, env["BACKUP_STORAGE"], func(string) string { return "" })
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &jobs.Deps{Pool: pool, Q: queries.New(pool), Cfg: cfg, Store: st, Log: log}
	client, err := jobs.NewClient(d, jobs.InsertOnly, "")
	require.NoError(t, err)
	u, err := auth.CreateUser(ctx, d.Q, "admin@clinic.test", "admin", auth.Admin, "correct horse battery")
	require.NoError(t, err)
	tok, _, err := auth.CreateToken(ctx, d.Q, u, "outputs", auth.Public, 0, time.Now())
	require.NoError(t, err)
	srv := httptest.NewServer(handlers.New(handlers.Deps{Pool: pool, Q: d.Q, River: client, Cfg: cfg, Store: st, Log: log}))
	t.Cleanup(srv.Close)
	return &outputsEnv{env: env, pool: pool, q: d.Q, d: d, srv: srv, client: client, token: tok}
}

func (o *outputsEnv) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := o.pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

// backup inserts a finished top-level backup of kind with status, finished age ago; trigger "upload" makes it
// an upload.
func (o *outputsEnv) backup(t *testing.T, kind, status, trigger, age string, scheduleID *int64) int64 {
	t.Helper()
	var id int64
	require.NoError(t, o.pool.QueryRow(context.Background(), `INSERT INTO backups (kind, status, trigger, schedule_id,
		queued_at, started_at, finished_at, error, storage_key, sha256)
		VALUES ($1, $2, $3, $4, now() - $5::interval, now() - $5::interval, now() - $5::interval,
		        CASE WHEN $2 = 'failed' THEN 'pg_dump: connection refused' ELSE '' END, 'k/' || gen_random_uuid(), 'ab')
		RETURNING id`, kind, status, trigger, scheduleID, age).Scan(&id))
	return id
}

func (o *outputsEnv) verification(t *testing.T, backupID int64, level, status, errText string) {
	t.Helper()
	o.exec(t, `INSERT INTO verifications (backup_id, level, status, started_at, finished_at, rto_ms, error)
		VALUES ($1, $2, $3, now(), now(), 41000, $4)`, backupID, level, status, errText)
}

// alive records what a running worker leaves behind: a completed scheduler pass and the health job's metric.
func (o *outputsEnv) alive(t *testing.T, tickAge string) {
	t.Helper()
	o.exec(t, `INSERT INTO river_job (kind, args, max_attempts, state, finalized_at)
		VALUES ('schedule_tick', '{}', 1, 'completed', now() - $1::interval)`, tickAge)
	_, err := o.q.HealthMetricInsert(context.Background(), queries.HealthMetricInsertParams{Metric: recovery.MetricName, Value: 0, Unit: "level"})
	require.NoError(t, err)
}

func (o *outputsEnv) schedule(t *testing.T, name, kind string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, o.pool.QueryRow(context.Background(), `INSERT INTO schedules (name, kind, cadence, time_of_day, timezone,
		active, created_at) VALUES ($1, $2, 'daily', '02:00', 'Asia/Manila', true, now() - interval '5 days') RETURNING id`,
		name, kind).Scan(&id))
	return id
}

func (o *outputsEnv) get(t *testing.T, path string, auth bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", o.srv.URL+path, nil)
	require.NoError(t, err)
	if auth {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// observed is what one output says.
type observed struct {
	status string   // ok, warning or critical
	rules  []string // sorted "rule subject" of every problem
}

var metricStatus = regexp.MustCompile(`(?m)^pisbackup_recovery_status (\d)$`)

// observe reads the state from every output.
func (o *outputsEnv) observe(t *testing.T) map[string]observed {
	t.Helper()
	ctx := context.Background()
	out := map[string]observed{}
	fromProblems := func(ps []recovery.Problem) []string {
		r := []string{}
		for _, p := range ps {
			r = append(r, p.Rule+" "+p.Subject)
		}
		sort.Strings(r)
		return r
	}
	fromDoc := func(doc *goquery.Document, sel string) []string {
		r := []string{}
		doc.Find(sel).Each(func(_ int, s *goquery.Selection) {
			r = append(r, s.AttrOr("data-rule", "")+" "+s.AttrOr("data-subject", ""))
		})
		sort.Strings(r)
		return r
	}

	code, body := o.get(t, "/", true)
	require.Equal(t, http.StatusOK, code, body)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	v := doc.Find(`[data-testid="verdict"]`)
	status := v.AttrOr("data-status", "")
	require.Equal(t, string(recovery.LevelOf(status)), v.AttrOr("data-level", ""), "dashboard colour follows its status")
	require.Equal(t, recovery.LevelOf(status).Label(), strings.TrimSpace(v.Find(".verdict-label").Text()), "dashboard heading is the status's label")
	out["dashboard"] = observed{status, fromDoc(doc, `[data-testid="problems"] li`)}

	code, body = o.get(t, "/health", true)
	require.Equal(t, http.StatusOK, code, body)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.NotContains(t, body, "backup_success_rate", "no rate is shown for backups that never finished")
	out["/health"] = observed{strings.TrimSpace(doc.Find(`[data-testid="health-status"]`).Text()), fromDoc(doc, `[data-testid="health-problems"] li`)}

	code, body = o.get(t, "/readyz", false)
	var ready struct {
		Status   string `json:"status"`
		Problems []recovery.Problem
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ready), body)
	require.Equal(t, ready.Status == recovery.StatusCritical, code == http.StatusServiceUnavailable, "/readyz is 503 exactly when critical: %s", body)
	out["/readyz"] = observed{ready.Status, fromProblems(ready.Problems)}

	stdout, stderr, exit := runCLI(t, o.env, "monitor-backups", "--json")
	var cli recovery.State
	require.NoError(t, json.Unmarshal([]byte(stdout), &cli), stderr)
	require.Equal(t, cli.Code(), exit, "exit code follows the status")
	out["monitor-backups --json"] = observed{cli.Status, fromProblems(cli.Problems)}

	code, body = o.get(t, "/api/v1/health", true)
	require.Equal(t, http.StatusOK, code, body)
	var api struct {
		Status string         `json:"status"`
		State  recovery.State `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &api))
	require.Equal(t, api.Status, api.State.Status)
	out["/api/v1/health"] = observed{api.Status, fromProblems(api.State.Problems)}

	code, body = o.get(t, "/metrics", true)
	require.Equal(t, http.StatusOK, code, body)
	m := metricStatus.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	out["/metrics"] = observed{[]string{"ok", "warning", "critical"}[m[1][0]-'0'], nil}

	st, _, err := jobs.EvaluateAlerts(ctx, o.d, o.client, false)
	require.NoError(t, err)
	open, err := o.q.AlertListOpen(ctx)
	require.NoError(t, err)
	rules, worst := []string{}, recovery.StatusOK
	for _, a := range open {
		rules = append(rules, a.Rule+" "+a.Subject)
		if a.Severity == recovery.StatusCritical || (a.Severity == recovery.StatusWarning && worst == recovery.StatusOK) {
			worst = a.Severity
		}
		require.NotEmpty(t, alert.LinkOf(a.Subject, a.Details), "every alert links to what it is about")
	}
	sort.Strings(rules)
	out["alerts"] = observed{worst, rules}
	require.Equal(t, st.Status, worst)

	msg, err := alert.TestMessage(ctx, o.q, o.d.Cfg, "ops@clinic.test", "", time.Now())
	require.NoError(t, err)
	em := regexp.MustCompile(`Overall status: (\w+)\n(.*)\n`).FindStringSubmatch(msg.Text)
	require.NotNil(t, em, msg.Text)
	require.True(t, strings.HasPrefix(em[2], recovery.LevelOf(em[1]).Label()+": "), "the e-mail's verdict line: %q", em[2])
	out["e-mail body"] = observed{em[1], nil}
	return out
}

// requireAgree checks every output gives the same status and (where it lists them) the same problems.
func requireAgree(t *testing.T, got map[string]observed, status string, rules ...string) {
	t.Helper()
	sort.Strings(rules)
	if rules == nil {
		rules = []string{}
	}
	for name, o := range got {
		require.Equal(t, status, o.status, "%s says %s", name, o.status)
		if o.rules != nil {
			require.Equal(t, rules, o.rules, "%s lists other problems", name)
		}
	}
	var lines []string
	for _, name := range []string{"dashboard", "/health", "/readyz", "monitor-backups --json", "/api/v1/health", "/metrics", "alerts", "e-mail body"} {
		lines = append(lines, fmt.Sprintf("%s=%s", name, got[name].status))
	}
	t.Logf("%s; problems %v", strings.Join(lines, " "), rules)
}

// TestOneStateEverywhere walks the states of issue 16 through every output: each must give the same status
// (ok/warning/critical, shown as Recoverable/Needs attention/At risk) and the same problems.
func TestOneStateEverywhere(t *testing.T) {
	t.Parallel()
	mailEnv := map[string]string{"SENDGRID_API_KEY": "SG.test-key", "SENDGRID_API_URL": "http://127.0.0.1:9", "DEFAULT_FROM_EMAIL": "backups@clinic.test",
		"BACKUP_ALERT_EMAIL": "ops@clinic.test"}

	t.Run("fresh install", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, nil)
		requireAgree(t, o.observe(t), "critical", "backup_missing kind:database", "backup_stale kind:database",
			"scheduler_not_running scheduler", "monitor_not_running worker", "email_failing config")
	})

	t.Run("failure then two successes", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		o.backup(t, "database", "failed", "schedule", "3 hours", &s)
		o.backup(t, "database", "succeeded", "manual", "2 hours", nil)
		o.backup(t, "database", "succeeded", "manual", "1 hour", nil)
		requireAgree(t, o.observe(t), "warning", "backup_unproven kind:database")
	})

	t.Run("failure then two successes, the newest drilled", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		o.backup(t, "database", "failed", "schedule", "3 hours", &s)
		o.backup(t, "database", "succeeded", "manual", "2 hours", nil)
		b := o.backup(t, "database", "succeeded", "manual", "1 hour", nil)
		o.verification(t, b, "drill", "succeeded", "")
		requireAgree(t, o.observe(t), "ok")
	})

	t.Run("newest backup failed", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		b := o.backup(t, "database", "succeeded", "schedule", "3 hours", &s)
		o.verification(t, b, "drill", "succeeded", "")
		o.backup(t, "database", "failed", "schedule", "1 hour", &s)
		requireAgree(t, o.observe(t), "critical", "backup_failed kind:database")
	})

	t.Run("corrupt newest", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		old := o.backup(t, "database", "succeeded", "schedule", "20 hours", &s)
		o.verification(t, old, "drill", "succeeded", "")
		b := o.backup(t, "database", "succeeded", "schedule", "1 hour", &s)
		o.verification(t, b, "drill", "succeeded", "")
		o.verification(t, b, "checksum", "failed", "SHA-256 mismatch")
		got := o.observe(t)
		requireAgree(t, got, "critical", fmt.Sprintf("verification_failed backup:%d", b))
		st, err := recovery.Evaluate(context.Background(), recovery.Inputs{Q: o.q, Now: time.Now()})
		require.NoError(t, err)
		require.Equal(t, old, st.Kinds["database"].NewestGood.ID, "a corrupt backup is not newest good")
		require.Equal(t, old, st.Kinds["database"].NewestProven.ID, "nor proven, though its drill passed")
	})

	t.Run("scheduler frozen", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "12 minutes")
		s := o.schedule(t, "Nightly", "database")
		b := o.backup(t, "database", "succeeded", "schedule", "1 hour", &s)
		o.verification(t, b, "drill", "succeeded", "")
		requireAgree(t, o.observe(t), "critical", "scheduler_not_running scheduler")
	})

	t.Run("stale", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		b := o.backup(t, "database", "succeeded", "schedule", "50 hours", &s)
		o.verification(t, b, "drill", "succeeded", "")
		requireAgree(t, o.observe(t), "critical", fmt.Sprintf("backup_stale schedule:%d", s))
	})

	t.Run("no recipients", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, map[string]string{"SENDGRID_API_KEY": "SG.test-key", "SENDGRID_API_URL": "http://127.0.0.1:9", "DEFAULT_FROM_EMAIL": "backups@clinic.test"})
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		b := o.backup(t, "database", "succeeded", "schedule", "1 hour", &s)
		o.verification(t, b, "drill", "succeeded", "")
		requireAgree(t, o.observe(t), "warning", "email_failing recipients")
	})

	t.Run("only an upload claiming 2099", func(t *testing.T) {
		t.Parallel()
		o := newOutputsEnv(t, mailEnv)
		o.alive(t, "10 seconds")
		s := o.schedule(t, "Nightly", "database")
		u := o.backup(t, "database", "succeeded", "upload", "-70 years", nil)
		o.verification(t, u, "drill", "succeeded", "")
		requireAgree(t, o.observe(t), "critical", "backup_missing kind:database", fmt.Sprintf("backup_stale schedule:%d", s))
	})
}
