package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// /metrics exposes what the health job recorded, to an admin or to METRICS_TOKEN, and to nobody else.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, true)
	e.d.Cfg.MetricsToken = "scrape-secret-123"
	_, err := jobs.CollectHealth(context.Background(), e.d)
	require.NoError(t, err)
	// A stale recording from a time things were fine (the health job runs every 15 minutes): /metrics still
	// serves the state as it is now.
	_, err = e.d.Pool.Exec(context.Background(), `INSERT INTO health_metrics (metric, value, unit, recorded_at) VALUES
		('monitor_status', 0, 'level', now() + interval '1 hour'), ('last_good_backup_age_seconds_database', 60, 'seconds', now() + interval '1 hour')`)
	require.NoError(t, err)

	resp, _ := e.req(t, nil, "GET", "/metrics", "", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "anonymous: sign in first")
	resp, _ = e.req(t, nil, "GET", "/metrics", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = e.req(t, nil, "GET", "/metrics", "wrong-token", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a wrong token is no token: sign in")
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login"))

	for _, tok := range []string{e.tokens[auth.Admin], "scrape-secret-123"} {
		resp, text := e.req(t, nil, "GET", "/metrics", tok, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, text)
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), resp.Header.Get("Content-Type"))
		for _, name := range []string{"pisbackup_source_db_bytes", "pisbackup_storage_used_bytes",
			"pisbackup_river_queue_depth", "pisbackup_worker_uptime_seconds", "pisbackup_monitor_status",
			"pisbackup_recovery_status", "pisbackup_scheduler_alive", "pisbackup_worker_alive"} {
			require.Contains(t, text, "\n"+name+" ", name)
			require.Contains(t, text, "# TYPE "+name+" gauge", name)
		}
		require.NotContains(t, text, "scrape-secret")
		require.NotContains(t, text, "pisbackup_backup_success_rate_24h", "no backup finished: no rate, not 100%")
		require.Contains(t, text, "\npisbackup_recovery_status 2\n", "nothing backed up yet: critical, as on the dashboard")
		require.Contains(t, text, "\npisbackup_monitor_status 2\n", "the worker's verdict is the live one")
		require.NotContains(t, text, "pisbackup_last_good_backup_age_seconds_database", "no good backup exists now")
	}
	// The token opens /metrics only.
	resp, _ = e.req(t, nil, "GET", "/api/v1/schedules", "scrape-secret-123", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// The API serves one metric's series.
	resp, text := e.req(t, nil, "GET", "/api/v1/metrics?metric=source_db_bytes&since=7d", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	var series struct {
		Unit   string        `json:"unit"`
		Points []MetricPoint `json:"points"`
	}
	require.NoError(t, jsonUnmarshal(text, &series))
	require.Equal(t, "bytes", series.Unit)
	require.Len(t, series.Points, 1)
	require.Greater(t, series.Points[0].Value, 1e6)
	resp, text = e.req(t, nil, "GET", "/api/v1/metrics?since=7d", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, text, "source_db_bytes", "the 422 lists the metric names")

	// The health page charts it.
	resp, text = e.req(t, nil, "GET", "/health?range=24h", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	require.Contains(t, text, `data-testid="chart-dbsize"`)
	require.Contains(t, text, "<svg")
	latest := parseHTML(t, text).Find(`[data-testid=health-latest]`).Text()
	require.Contains(t, latest, "Critical", "the page's own verdict, not the stale recording")
	require.NotContains(t, latest, "OK")
	require.NotContains(t, latest, "Newest good backup age (database)", "no good backup exists now")
}

// /readyz renders the recoverability state: 503 exactly while it is critical (here: nothing backed up, no
// worker, no scheduler; later: the newest good backup past its schedule's deadline), 200 otherwise.
func TestReadyzGoes503WhenBackupTooOld(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	ready := func() (int, string) {
		resp, text := e.req(t, nil, "GET", "/readyz", "", "")
		return resp.StatusCode, text
	}
	code, text := ready()
	require.Equal(t, http.StatusServiceUnavailable, code, text)
	require.Contains(t, text, recovery.RuleWorkerNotRunning)
	require.Contains(t, text, recovery.RuleSchedulerNotRunning)
	require.Contains(t, text, recovery.RuleBackupMissing)

	_, err := jobs.CollectHealth(ctx, e.d)
	require.NoError(t, err)
	_, err = e.d.Pool.Exec(ctx, "INSERT INTO river_job (kind, args, max_attempts, state, finalized_at) VALUES ('schedule_tick', '{}', 1, 'completed', now())")
	require.NoError(t, err)
	// A daily schedule three days old whose newest good database backup is two days old: overdue.
	resp, text := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], `{"name":"Nightly","kind":"database","cadence":"daily","time_of_day":"02:00"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, text)
	_, err = e.d.Pool.Exec(ctx, "UPDATE schedules SET created_at = now() - interval '3 days'")
	require.NoError(t, err)
	goodBackup(t, e, "2 days")
	code, text = ready()
	require.Equal(t, http.StatusServiceUnavailable, code, text)
	require.Contains(t, text, recovery.RuleBackupStale)
	require.NotContains(t, text, recovery.RuleWorkerNotRunning)
	require.NotContains(t, text, "Nightly", "readyz is public: rules and subjects only")

	// A fresh good backup clears it; what is left (unproven, e-mail not configured) is a warning: 200.
	goodBackup(t, e, "10 minutes")
	code, text = ready()
	require.Equal(t, http.StatusOK, code, text)
	require.Contains(t, text, `"status":"warning"`)
}

func goodBackup(t *testing.T, e *authEnv, age string) queries.Backup {
	t.Helper()
	b, err := e.d.Q.BackupInsert(context.Background(), queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true, Format: "x"})
	require.NoError(t, err)
	_, err = e.d.Pool.Exec(context.Background(), "UPDATE backups SET status = 'succeeded', finished_at = now() - $2::interval WHERE id = $1", b.ID, age)
	require.NoError(t, err)
	return b
}
