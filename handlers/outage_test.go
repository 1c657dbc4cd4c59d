package handlers

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// During a catalog outage nothing answers 500: /healthz stays 200, /readyz says 503, and every request with a
// session cookie or a token (the login page included) says plainly that the catalog database is unreachable.
// Once it is back, the same session works again.
func TestCatalogOutageAnswers(t *testing.T) {
	t.Parallel()
	proxy := testdb.NewProxy(t)
	e := newAuthEnvVia(t, false, proxy.URL)
	tok := e.tokens[auth.Operator]
	c, resp := e.login(t, "operator@clinic.test", testPassword)
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
	r, body = e.req(t, nil, "POST", "/login", "", url.Values{"email": {"operator@clinic.test"}, "password": {testPassword}}.Encode())
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
