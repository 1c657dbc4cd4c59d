package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

func TestLoginSessionAndLogout(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	c, resp := e.login(t, "Operator@Clinic.test", testPassword) // e-mail is case-insensitive
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie {
			sess = ck
		}
	}
	require.NotNil(t, sess, "login sets the session cookie")
	require.True(t, sess.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	require.False(t, sess.Secure, "plain-http BASE_URL: not Secure")
	// Only a hash of the session token is stored.
	var n int
	require.NoError(t, e.d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM sessions WHERE token = $1", sess.Value).Scan(&n))
	require.Zero(t, n, "the raw session token must not be stored")

	resp, body := e.req(t, c, "GET", "/backups", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "operator@clinic.test")

	resp, _ = e.req(t, c, "POST", "/logout", "", "x=1", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = e.req(t, c, "GET", "/backups", "", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next=%2Fbackups", resp.Header.Get("Location"))

	ok := e.audit(t, "login.succeeded")
	require.Len(t, ok, 1)
	require.Equal(t, "operator@clinic.test", ok[0].Actor)
	require.Equal(t, e.users[auth.Operator].ID, *ok[0].ActorUserID)
	require.Len(t, e.audit(t, "logout"), 1)
}

func TestLoginFailuresLookAlikeAndAreRateLimited(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	errorText := func(body string) string {
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		require.NoError(t, err)
		return doc.Find("[data-testid=login-error]").Text()
	}
	_, unknown := e.req(t, nil, "POST", "/login", "", url.Values{"email": {"nobody@clinic.test"}, "password": {"whatever123"}}.Encode())
	resp, wrong := e.req(t, nil, "POST", "/login", "", url.Values{"email": {"viewer@clinic.test"}, "password": {"wrong password"}}.Encode())
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.NotEmpty(t, errorText(wrong))
	require.Equal(t, errorText(unknown), errorText(wrong), "unknown e-mail and wrong password must read the same")

	// Per account: 5 failures, then even the right password is refused until the bucket refills.
	for range 4 {
		resp, _ := e.req(t, nil, "POST", "/login", "", url.Values{"email": {"viewer@clinic.test"}, "password": {"guess guess guess"}}.Encode())
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	}
	resp, body := e.req(t, nil, "POST", "/login", "", url.Values{"email": {"viewer@clinic.test"}, "password": {testPassword}}.Encode())
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, errorText(body), "Too many")
	// Another account from the same address is still fine (the per-address budget is larger).
	_, resp = e.login(t, "admin@clinic.test", testPassword)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	failed := e.audit(t, "login.failed")
	require.Len(t, failed, 6)
	require.Equal(t, "user:viewer@clinic.test", failed[0].Target)
	require.Len(t, e.audit(t, "login.rate_limited"), 1)
	for _, a := range append(failed, e.audit(t, "login.rate_limited")...) {
		require.Equal(t, "failed", a.Outcome, "a refused sign-in is on record as failed, not done")
	}
}

func TestTokenShownOnceAndStoredHashed(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	form := url.Values{"user_id": {"2"}, "name": {"uptime monitor"}, "role": {"viewer"}, "expires": {"30d"}}
	resp, body := e.req(t, nil, "POST", "/admin/tokens", e.tokens[auth.Admin], form.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	token := strings.TrimSpace(doc.Find("[data-testid=secret-value]").Text())
	require.True(t, strings.HasPrefix(token, auth.TokenPrefix), token)

	sum := sha256.Sum256([]byte(token))
	row, err := e.d.Q.APITokenGetByHash(context.Background(), sum[:])
	require.NoError(t, err, "stored as its SHA-256")
	require.Equal(t, "viewer", row.Role)
	require.True(t, strings.HasPrefix(token, row.Prefix) && len(row.Prefix) < 16)
	var leaks int
	require.NoError(t, e.d.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM api_tokens t WHERE t::text LIKE '%' || $1 || '%'", token[len(auth.TokenPrefix)+6:]).Scan(&leaks))
	require.Zero(t, leaks, "the token itself is stored nowhere")

	_, list := e.req(t, nil, "GET", "/admin/tokens", e.tokens[auth.Admin], "")
	require.NotContains(t, list, token, "never shown again")
	require.Contains(t, list, row.Prefix)

	resp, _ = e.req(t, nil, "GET", "/api/v1/backups", token, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	created := e.audit(t, "token.create")
	require.Len(t, created, 1)
	require.Equal(t, "admin@clinic.test (token admin script)", created[0].Actor)
	require.NotContains(t, string(created[0].Details), token)
}

func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	op := e.users[auth.Operator]
	get := func(tok string) (int, string) {
		resp, body := e.req(t, nil, "GET", "/api/v1/backups", tok, "")
		return resp.StatusCode, body
	}

	// Revoked through the admin page.
	tok, row, err := auth.CreateToken(ctx, e.d.Q, op, "to revoke", auth.Public, 0, time.Now())
	require.NoError(t, err)
	code, _ := get(tok)
	require.Equal(t, http.StatusOK, code)
	resp, _ := e.req(t, nil, "POST", "/admin/tokens/"+idText(row.ID)+"/revoke", e.tokens[auth.Admin], "x=1")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	code, body := get(tok)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "revoked")
	rev := e.audit(t, "token.revoke")
	require.Len(t, rev, 1)
	require.Equal(t, "token:"+idText(row.ID), rev[0].Target)

	// Expired.
	tok, _, err = auth.CreateToken(ctx, e.d.Q, op, "old", auth.Public, time.Hour, time.Now().Add(-2*time.Hour))
	require.NoError(t, err)
	code, body = get(tok)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "expired")

	// Unknown and malformed.
	code, _ = get(auth.TokenPrefix + strings.Repeat("A", 40))
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = get("not-a-token")
	require.Equal(t, http.StatusUnauthorized, code)

	// A token may not outrank its user, and a demoted user's tokens are demoted with them.
	_, _, err = auth.CreateToken(ctx, e.d.Q, e.users[auth.Viewer], "escalate", auth.Admin, 0, time.Now())
	require.Error(t, err)
	_, err = e.d.Q.UserSetRole(ctx, queries.UserSetRoleParams{ID: op.ID, Role: "viewer"})
	require.NoError(t, err)
	resp, _ = e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"database"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Disabled user: every token refused.
	resp, _ = e.req(t, nil, "POST", "/admin/users/"+idText(op.ID)+"/disable", e.tokens[auth.Admin], "disabled=true")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	code, body = get(e.tokens[auth.Operator])
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "disabled")
}

func TestOpenAPIListsEveryAPIRoute(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	resp, body := e.req(t, nil, "GET", "/api/v1/openapi.json", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Paths map[string]map[string]struct {
			MinRole string `json:"x-min-role"`
			Summary string `json:"summary"`
		} `json:"paths"`
	}
	require.NoError(t, jsonUnmarshal(body, &doc))
	n := 0
	for _, rt := range (&Handlers{}).Routes() {
		method, p, _ := strings.Cut(rt.Pattern, " ")
		if !strings.HasPrefix(p, "/api/v1/") {
			continue
		}
		n++
		op, ok := doc.Paths[p][strings.ToLower(method)]
		require.True(t, ok, "%s missing from openapi.json", rt.Pattern)
		require.Equal(t, rt.Role.String(), op.MinRole, rt.Pattern)
		require.Equal(t, rt.Summary, op.Summary, rt.Pattern)
		require.Contains(t, []string{"public", "viewer", "operator", "admin"}, op.MinRole)
	}
	ops := 0
	for _, m := range doc.Paths {
		ops += len(m)
	}
	require.Equal(t, n, ops, "openapi.json documents exactly the table's /api/v1 routes")
	require.GreaterOrEqual(t, n, 8)
}

func TestCrossSiteFormPostRefusedSameSiteHTMXWorks(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	c, _ := e.login(t, "operator@clinic.test", testPassword)
	resp, _ := e.req(t, c, "POST", "/backups", "", "kind=database", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = e.req(t, c, "POST", "/backups", "", "kind=database", "Origin", "https://evil.example") // no Sec-Fetch-Site
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	n, err := e.d.Q.BackupCount(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "a refused request changes nothing")

	resp, body := e.req(t, c, "POST", "/backups", "", "kind=database",
		"Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL, "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, resp.Header.Get("HX-Trigger"), "toast")
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	require.Equal(t, 1, doc.Find("[data-testid=backup-table] tbody tr").Length())
	created := e.audit(t, "backup.create")
	require.Len(t, created, 1)
	require.Equal(t, "operator@clinic.test", created[0].Actor)
}
