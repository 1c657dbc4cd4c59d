package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// The dashboard's configuration card and /api/v1/health show the checks of `pisbackup preflight` (one
// Monitor over preflight.Run): a superuser restore role is a failing line on both, with the same words. The
// health "status" stays the recoverability state's (issue 16: one answer everywhere); preflight.ok says it.
func TestPreflightOnDashboardAndHealth(t *testing.T) {
	t.Parallel()
	env := newAuthEnv(t, true)
	env.d.Cfg.RestoreDB = dbconn.MustParse(testdb.LoginRole(t, env.source, "SUPERUSER"))
	m := preflight.NewMonitor(preflight.Env{Cfg: env.d.Cfg, Catalog: env.d.Pool, Store: env.d.Store,
		DevIdentity: env.d.Keys.IdentityFile}, time.Minute)
	e := *env
	e.srv = httptest.NewServer(New(Deps{Pool: env.d.Pool, Q: env.d.Q, Cfg: env.d.Cfg, Store: env.d.Store,
		Keys: env.d.Keys, Log: env.d.Log, Preflight: m}))
	t.Cleanup(e.srv.Close)

	resp, body := e.req(t, nil, "GET", "/api/v1/health", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var health struct {
		Status    string
		Preflight preflight.Report
	}
	require.NoError(t, json.Unmarshal([]byte(body), &health), body)
	require.False(t, health.Preflight.OK)
	failed := health.Preflight.Failed()
	require.Len(t, failed, 1, "%+v", failed)
	require.Equal(t, "restore_role", failed[0].Name)
	require.Contains(t, failed[0].Problem, "is a superuser")

	// The same report as the command computes from scratch.
	fresh := preflight.Run(context.Background(), preflight.Env{Cfg: env.d.Cfg, DevIdentity: env.d.Keys.IdentityFile, Store: env.d.Store})
	require.Len(t, fresh.Checks, len(health.Preflight.Checks))
	require.Equal(t, fresh.Failed()[0].Problem, failed[0].Problem)

	doc := e.page(t, auth.Viewer, "/")
	var line string
	doc.Find(`[data-testid="config"] li`).Each(func(_ int, s *goquery.Selection) {
		if strings.Contains(s.Text(), "Restore role") {
			line = strings.Join(strings.Fields(s.Text()), " ")
		}
	})
	require.Contains(t, line, "CHECK Restore role: "+failed[0].Problem)
	require.Contains(t, line, "Fix: "+failed[0].Fix)
	require.Contains(t, doc.Find(`[data-testid="config"]`).Text(), "pg_dump 15.")
}

// The backup's page names the pg_dump client chosen for the source's server, from the manifest.
func TestBackupPageNamesPgDumpClient(t *testing.T) {
	t.Parallel()
	e, b := verifyEnv(t)
	doc := e.page(t, auth.Viewer, "/backups/"+idText(b.ID))
	text := strings.Join(strings.Fields(doc.Find(`[data-testid="pg-dump"]`).Text()), " ")
	require.Regexp(t, `^15\.\d+ / 15\.\d+ .*client /\S+/pg_dump$`, text)
}
