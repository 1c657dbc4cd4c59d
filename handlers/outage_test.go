package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// During a catalog outage nothing answers 500: /healthz stays 200, /readyz says 503, and every request with a
// session cookie or a token (the login page included) says plainly that the catalog database is unreachable.
// Once it is back, the same session works again.
func TestCatalogOutageAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, catalog := testdb.Catalog(t)
	proxy := testdb.NewProxy(t)
	pool, err := pgxpool.New(ctx, proxy.URL(catalog))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	cfg, err := config.Load(func(k string) string { return map[string]string{"DATABASE_URL": catalog}[k] })
	require.NoError(t, err)
	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	d := &jobs.Deps{Pool: pool, Q: queries.New(pool), Cfg: cfg, Store: st, Keys: keys,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Started: time.Now()}
	client, err := jobs.NewClient(d, jobs.InsertOnly, "")
	require.NoError(t, err)
	u, err := auth.CreateUser(ctx, d.Q, "op@clinic.test", "op", auth.Operator, testPassword)
	require.NoError(t, err)
	tok, _, err := auth.CreateToken(ctx, d.Q, u, "script", auth.Public, 0, time.Now())
	require.NoError(t, err)
	srv := httptest.NewServer(New(Deps{Pool: pool, Q: d.Q, River: client, Cfg: cfg, Store: st, Keys: keys, Log: d.Log}))
	t.Cleanup(srv.Close)
	e := &authEnv{srv: srv, d: d}
	c, resp := e.login(t, "op@clinic.test", testPassword)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	r, _ := e.req(t, c, "GET", "/backups", "", "")
	require.Equal(t, http.StatusOK, r.StatusCode)

	proxy.Cut()
	r, body := e.req(t, c, "GET", "/healthz", "", "")
	require.Equal(t, http.StatusOK, r.StatusCode, body)
	r, body = e.req(t, c, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode, body)
	require.Contains(t, body, "catalog_unreachable")
	for _, path := range []string{"/login", "/", "/backups", "/schedules"} {
		r, body = e.req(t, c, "GET", path, "", "")
		require.Equal(t, http.StatusServiceUnavailable, r.StatusCode, "%s: %s", path, body)
		require.Contains(t, body, "catalog database is unreachable", path)
	}
	r, body = e.req(t, nil, "POST", "/login", "", url.Values{"email": {"op@clinic.test"}, "password": {testPassword}}.Encode())
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode, body)
	r, body = e.req(t, nil, "GET", "/api/v1/backups", tok, "")
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode, body)
	require.Contains(t, body, `"code":"unavailable"`)

	proxy.Restore()
	require.Eventually(t, func() bool {
		r, _ := e.req(t, c, "GET", "/backups", "", "")
		return r.StatusCode == http.StatusOK
	}, 20*time.Second, 200*time.Millisecond, "the same session works once the catalog is back")
}
