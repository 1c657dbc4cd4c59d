package handlers

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
)

func secretOnPage(t *testing.T, body string) string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	return strings.TrimSpace(doc.Find("[data-testid=secret-value]").Text())
}

func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	admin, _ := e.login(t, "admin@clinic.test", testPassword)
	post := func(path string, form url.Values) (*http.Response, string) {
		return e.req(t, admin, "POST", path, "", form.Encode(), "Sec-Fetch-Site", "same-origin")
	}

	// Create with a generated password, shown once; it signs in.
	resp, body := post("/admin/users", url.Values{"email": {"nurse@clinic.test"}, "name": {"Nurse"}, "role": {"viewer"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	pw := secretOnPage(t, body)
	require.NotEmpty(t, pw)
	_, resp = e.login(t, "nurse@clinic.test", pw)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	nurse, err := e.d.Q.UserGetByEmail(ctx, "nurse@clinic.test")
	require.NoError(t, err)
	require.NotContains(t, nurse.PasswordHash, pw)

	// Bad input is refused with the field named, and the form keeps what was typed.
	resp, body = post("/admin/users", url.Values{"email": {"NURSE@clinic.test"}, "role": {"viewer"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "already exists")
	resp, body = post("/admin/users", url.Values{"email": {"not-an-email"}, "role": {"viewer"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "not an e-mail address")
	resp, _ = post("/admin/users", url.Values{"email": {"x@clinic.test"}, "role": {"root"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// Change role; the nurse's session follows at once.
	nurseClient, _ := e.login(t, "nurse@clinic.test", pw)
	resp, _ = post("/admin/users/"+idText(nurse.ID)+"/role", url.Values{"role": {"operator"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = e.req(t, nurseClient, "POST", "/backups", "", "kind=database", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "operator now")
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/backups/"))

	// Reset password: the old one and the sessions opened with it stop working.
	resp, body = post("/admin/users/"+idText(nurse.ID)+"/password", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	newPW := secretOnPage(t, body)
	require.NotEqual(t, pw, newPW)
	resp, _ = e.req(t, nurseClient, "GET", "/backups", "", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "old session ended")
	_, resp = e.login(t, "nurse@clinic.test", pw)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// Disable: sessions end, sign-in refused with the usual message.
	nurseClient, resp = e.login(t, "nurse@clinic.test", newPW)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = post("/admin/users/"+idText(nurse.ID)+"/disable", url.Values{"disabled": {"true"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = e.req(t, nurseClient, "GET", "/backups", "", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, resp = e.login(t, "nurse@clinic.test", newPW)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// The last admin can be neither demoted nor disabled.
	adminID := idText(e.users[auth.Admin].ID)
	resp, _ = post("/admin/users/"+adminID+"/role", url.Values{"role": {"viewer"}})
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	resp, _ = post("/admin/users/"+adminID+"/disable", url.Values{"disabled": {"true"}})
	require.Equal(t, http.StatusConflict, resp.StatusCode)

	for _, action := range []string{"user.create", "user.role", "user.password_reset", "user.disable"} {
		ev := e.audit(t, action)
		require.Len(t, ev, 1, action)
		require.Equal(t, "admin@clinic.test", ev[0].Actor, action)
		require.Equal(t, "user:nurse@clinic.test", ev[0].Target, action)
	}
}

func TestAuditLogFiltersAndCSV(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	_, _ = e.login(t, "viewer@clinic.test", "wrong wrong wrong")
	_, _ = e.login(t, "operator@clinic.test", testPassword)
	admin := e.tokens[auth.Admin]

	resp, body := e.req(t, nil, "GET", "/admin/audit?action=login.failed", admin, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, 1, doc.Find("[data-testid=audit] tbody tr").Length())
	require.Contains(t, doc.Find("[data-testid=audit] tbody").Text(), "user:viewer@clinic.test")

	resp, body = e.req(t, nil, "GET", "/admin/audit?actor=operator", admin, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "login.succeeded")
	require.NotContains(t, body, "login.failed")

	resp, _ = e.req(t, nil, "GET", "/admin/audit?from=yesterday", admin, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, body = e.req(t, nil, "GET", "/admin/audit?from=2000-01-01&to=2000-01-02", admin, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Zero(t, doc.Find("[data-testid=audit] tbody tr").Length())

	resp, body = e.req(t, nil, "GET", "/admin/audit.csv?action=login", admin, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "actor", recs[0][2])
	require.Len(t, recs, 3, "header + one failed + one succeeded login")
	require.Len(t, e.audit(t, "audit.export"), 1)
}

func TestProfileAlertOptIn(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	c, _ := e.login(t, "admin@clinic.test", testPassword)
	resp, _ := e.req(t, c, "POST", "/profile/alerts", "", "alert_opt_in=true", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	u, err := e.d.Q.UserGet(context.Background(), e.users[auth.Admin].ID)
	require.NoError(t, err)
	require.True(t, u.AlertOptIn)
	resp, _ = e.req(t, c, "POST", "/profile/alerts", "", "x=1", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	u, err = e.d.Q.UserGet(context.Background(), e.users[auth.Admin].ID)
	require.NoError(t, err)
	require.False(t, u.AlertOptIn)
	require.Len(t, e.audit(t, "profile.alerts"), 2)

	// Changing one's own password keeps this session and needs the current password.
	resp, _ = e.req(t, c, "POST", "/profile/password", "", url.Values{"current": {"nope nope nope"}, "new": {"a brand new secret"}}.Encode(), "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = e.req(t, c, "POST", "/profile/password", "", url.Values{"current": {testPassword}, "new": {"a brand new secret"}}.Encode(), "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = e.req(t, c, "GET", "/profile", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, resp = e.login(t, "admin@clinic.test", "a brand new secret")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}
