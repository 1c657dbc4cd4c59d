package handlers

import (
	"context"
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

func parseHTML(t *testing.T, body string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	return doc
}

// Unknown URLs answer in the caller's language: the styled HTML page for browsers (signed in or not), the
// JSON error envelope under /api/. Go's plain-text "404 page not found" never reaches anyone.
func TestUnknownURLsGetStyledPageOrJSONEnvelope(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
	for _, c := range []*http.Client{nil, viewer} {
		for _, path := range []string{"/no-such-page", "/backups/1/nonsense", "/static-typo/x.css"} {
			resp, body := e.req(t, c, "GET", path, "", "")
			require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			require.Contains(t, resp.Header.Get("Content-Type"), "text/html", path)
			doc := parseHTML(t, body)
			require.Equal(t, 1, doc.Find("main#main h1").Length(), path+": "+body)
			require.Contains(t, doc.Find("h1").Text(), "not found", path)
			require.Equal(t, "en", doc.Find("html").AttrOr("lang", ""), path)
		}
	}
	for _, tok := range []string{"", e.tokens[auth.Viewer]} {
		for _, path := range []string{"/api/v1/nope", "/api/v2/backups", "/api/"} {
			resp, body := e.req(t, nil, "GET", path, tok, "")
			require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			require.Contains(t, resp.Header.Get("Content-Type"), "application/json", path)
			requireJSONError(t, body, "not_found", path)
		}
	}
}

// A session that ends while a page polls one of its fragments sends the browser to sign in again; afterwards
// it lands on the page, never on the bare fragment.
func TestSignInNeverLandsOnAFragment(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	// The poll itself: HTMX sends HX-Current-URL, the page the person is looking at.
	resp, _ := e.req(t, nil, "GET", "/backups/8/summary", "", "", "HX-Request", "true",
		"HX-Current-URL", e.srv.URL+"/backups/8?tab=x")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "/login?next="+url.QueryEscape("/backups/8?tab=x"), resp.Header.Get("HX-Redirect"))

	// A fragment URL in next, however it got there, goes to the page the fragment belongs to.
	for next, want := range map[string]string{
		"/backups/8/summary":  "/backups/8",
		"/backups/8/activity": "/backups/8",
		"/dashboard/live":     "/",
		"/backups/table":      "/backups",
		"/media/live":         "/media",
		"/schedules/preview":  "/schedules",
		"/backups/8":          "/backups/8",
		"/backups?kind=media": "/backups?kind=media",
	} {
		c := e.client(t)
		resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"email": {"viewer@clinic.test"}, "password": {testPassword}, "next": {next}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, next)
		require.Equal(t, want, resp.Header.Get("Location"), next)
		// Already signed in: GET /login?next=… redirects the same way.
		resp, _ = e.req(t, c, "GET", "/login?next="+url.QueryEscape(next), "", "")
		require.Equal(t, want, resp.Header.Get("Location"), next)
	}
}

// The outbox renders the e-mail's HTML in an empty sandbox: the srcdoc attribute holds the HTML escaped once
// (the browser un-escapes it into markup), not its source escaped twice.
func TestOutboxRendersHTMLSandboxed(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	now := time.Now()
	_, err := e.d.Q.EmailInsert(context.Background(), queries.EmailInsertParams{
		ToAddrs: []string{"nurse@clinic.example"}, Subject: "Backups are fine", Template: "test",
		HtmlBody: `<html><body><h1 id="x">Overall status &amp; more</h1><script>alert(1)</script></body></html>`,
		TextBody: "Overall status", Provider: "outbox", Status: "sent", CreatedAt: now, SentAt: &now})
	require.NoError(t, err)
	viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
	_, body := e.req(t, viewer, "GET", "/outbox", "", "")
	frame := parseHTML(t, body).Find(`[data-testid="outbox-message"] iframe`)
	require.Equal(t, "", frame.AttrOr("sandbox", "missing"), "no scripts, no same-origin")
	srcdoc := frame.AttrOr("srcdoc", "")
	require.True(t, strings.HasPrefix(srcdoc, "<html><body><h1 id=\"x\">Overall status &amp; more</h1>"), srcdoc)
	require.NotContains(t, srcdoc, "&lt;", "escaped twice: the page would show the source")
	// The attribute cannot be broken out of.
	require.NotContains(t, body, `srcdoc="<html`)
}

// A failed backup's page shows what failed in words and what to check, and no empty facts (storage key,
// SHA-256, "pg_dump / server: /") that only exist for a stored artifact.
func TestFailedBackupPageExplains(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	for raw, want := range map[string][]string{
		`pg_dump: error: connection to server at "db.example" (10.0.0.5), port 5432 failed: Connection refused`: {
			"could not reach the clinic database", "SOURCE_DATABASE_URL"},
		`pg_dump: error: query failed: ERROR:  permission denied for table patients_patient`: {
			"may not read", "GRANT SELECT"},
		`pg_dump: error: connection to server at "x" failed: FATAL:  password authentication failed for user "backup"`: {
			"refused the password", "SOURCE_DATABASE_URL"},
		`pg_dump: error: aborting because of server version mismatch`: {"pg_dump", "version"},
		`storage: PutObject: AccessDenied: Access Denied`:             {"storage", "BACKUP_STORAGE"},
	} {
		var id int64
		require.NoError(t, e.d.Pool.QueryRow(context.Background(), `INSERT INTO backups (kind, status, trigger, format, queued_at, started_at, finished_at, error)
			VALUES ('database', 'failed', 'manual', 'x', now(), now(), now(), $1) RETURNING id`, raw).Scan(&id))
		viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
		_, body := e.req(t, viewer, "GET", "/backups/"+idText(id), "", "")
		doc := parseHTML(t, body)
		facts := doc.Find("#backup-summary dl.facts").Text()
		for _, gone := range []string{"Storage key", "SHA-256", "pg_dump / server"} {
			require.NotContains(t, facts, gone, raw)
		}
		why := doc.Find(`[data-testid="failure-explained"]`)
		require.Equal(t, 1, why.Length(), raw)
		text := strings.Join(strings.Fields(why.Text()), " ")
		for _, w := range want {
			require.Contains(t, strings.ToLower(text), strings.ToLower(w), raw)
		}
		// The raw text stays available for whoever debugs it, but below the explanation.
		require.Contains(t, doc.Find(`[data-testid="backup-error"]`).Text(), raw[:20])
	}
}
