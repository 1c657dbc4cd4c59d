package handlers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

const testPassword = "correct horse battery"

// authEnv is a running server on a real catalog, with one user and one API token per role.
type authEnv struct {
	srv    *httptest.Server
	d      *jobs.Deps
	users  map[auth.Role]queries.User
	tokens map[auth.Role]string
	source string // SOURCE_DATABASE_URL as given, for helpers that take a connection string
}

// newAuthEnv starts the whole handler. With runBackups, a worker on the backups queue really runs pg_dump
// against a fresh demo clinic database.
func newAuthEnv(t testing.TB, runBackups bool) *authEnv {
	t.Helper()
	return newAuthEnvVars(t, runBackups, nil, nil)
}

// newAuthEnvVia is newAuthEnv whose server and jobs reach the catalog through via(url) (a testdb.Proxy the
// test can cut to simulate a catalog outage).
func newAuthEnvVia(t testing.TB, runBackups bool, via func(string) string) *authEnv {
	t.Helper()
	return newAuthEnvOpts(t, runBackups, nil, nil, via)
}

// newAuthEnvVars is newAuthEnv with extra environment variables for config.Load (e.g. TRUSTED_PROXIES) and,
// when now is not nil, the handlers' clock (throttle tests freeze it so a slow machine refills no bucket).
func newAuthEnvVars(t testing.TB, runBackups bool, extra map[string]string, now func() time.Time) *authEnv {
	t.Helper()
	return newAuthEnvOpts(t, runBackups, extra, now, nil)
}

func newAuthEnvOpts(t testing.TB, runBackups bool, extra map[string]string, now func() time.Time, via func(string) string) *authEnv {
	t.Helper()
	ctx := context.Background()
	pool, url := testdb.Catalog(t)
	if via != nil {
		pool = testdb.Pool(t, via(url))
	}
	vars := map[string]string{"DATABASE_URL": url}
	for k, v := range extra {
		vars[k] = v
	}
	if runBackups {
		vars["SOURCE_DATABASE_URL"] = testdb.Source(t)
		if _, set := vars["RESTORE_DATABASE_URL"]; !set {
			vars["RESTORE_DATABASE_URL"] = testdb.RestoreURL(t, vars["SOURCE_DATABASE_URL"])
		}
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	d := &jobs.Deps{Pool: pool, Q: queries.New(pool), Cfg: cfg, Store: st, Keys: keys,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Started: time.Now()}
	var client *river.Client[pgx.Tx]
	if runBackups {
		// Only the backups queue, and no periodic jobs: tests that need more start their own client.
		client, err = jobs.NewClient(d, jobs.Private, jobs.QueueBackups)
		require.NoError(t, err)
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			_ = client.Stop(sctx)
		})
	} else {
		client, err = jobs.NewClient(d, jobs.InsertOnly, "")
		require.NoError(t, err)
	}
	e := &authEnv{d: d, users: map[auth.Role]queries.User{}, tokens: map[auth.Role]string{}, source: vars["SOURCE_DATABASE_URL"]}
	// The admin is created first (user #1) so the route walk's "/admin/users/1/…" hits the last-admin guard.
	for _, role := range []auth.Role{auth.Admin, auth.Operator, auth.Viewer} {
		u, err := auth.CreateUser(ctx, d.Q, role.String()+"@clinic.test", role.String(), role, testPassword)
		require.NoError(t, err)
		if role == auth.Admin {
			// A spare token takes id 1, which the route walk's "/admin/tokens/1/revoke" revokes.
			_, _, err = auth.CreateToken(ctx, d.Q, u, "spare", auth.Public, 0, time.Now())
			require.NoError(t, err)
		}
		tok, _, err := auth.CreateToken(ctx, d.Q, u, role.String()+" script", auth.Public, 0, time.Now())
		require.NoError(t, err)
		e.users[role], e.tokens[role] = u, tok
	}
	e.srv = httptest.NewServer(New(Deps{Pool: pool, Q: d.Q, River: client, Cfg: cfg, Store: st, Keys: keys, Log: d.Log, Now: now}))
	t.Cleanup(e.srv.Close)
	return e
}

// client does not follow redirects, so tests see the 303s themselves.
func (e *authEnv) client(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login signs in through the form and returns a client holding the session cookie.
func (e *authEnv) login(t *testing.T, email, password string) (*http.Client, *http.Response) {
	c := e.client(t)
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"email": {email}, "password": {password}})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c, resp
}

// req sends one request; token may be empty; body is JSON for /api/ paths and a form otherwise.
func (e *authEnv) req(t testing.TB, c *http.Client, method, path, token, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	r, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		if strings.HasPrefix(path, "/api/") {
			r.Header.Set("Content-Type", "application/json")
		} else {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = e.client(t)
	}
	resp, err := c.Do(r)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// audit returns the audit events whose action starts with action, newest first.
func (e *authEnv) audit(t *testing.T, action string) []queries.AuditEvent {
	rows, err := e.d.Q.AuditSearch(context.Background(), queries.AuditSearchParams{Action: &action, Lim: 1000})
	require.NoError(t, err)
	return rows
}

func idText(n int64) string { return strconv.FormatInt(n, 10) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// workQueue runs a worker for one more queue until the test ends.
func (e *authEnv) workQueue(t *testing.T, queue string) {
	c, err := jobs.NewClient(e.d, jobs.Private, queue)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
}
