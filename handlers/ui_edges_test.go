package handlers

import (
	"context"
	"fmt"
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

// What cannot be undone asks first (data-confirm, read by app.js: no inline handlers under the CSP), a paused
// schedule is a warning on the dashboard, and Restore and Delete have server-rendered confirmation pages that
// work without JavaScript (the dialog openers are links to them).
func TestSafeClicks(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	admin, _ := e.login(t, "admin@clinic.test", testPassword)
	ctx := context.Background()
	_, body := e.req(t, admin, "GET", "/admin/users", "", "")
	doc := parseHTML(t, body)
	for _, sel := range []string{`form[action$="/disable"]`, `form[action$="/password"]`} {
		doc.Find(sel).Each(func(_ int, f *goquery.Selection) {
			if f.Find(`input[name=disabled][value=false]`).Length() == 0 { // enabling needs no warning
				require.NotEmpty(t, f.AttrOr("data-confirm", ""), sel)
			}
		})
		require.Positive(t, doc.Find(sel).Length(), sel)
	}
	_, body = e.req(t, admin, "GET", "/admin/tokens", "", "")
	revoke := parseHTML(t, body).Find(`form[action$="/revoke"]`)
	require.Positive(t, revoke.Length())
	require.NotEmpty(t, revoke.First().AttrOr("data-confirm", ""))
	_, body = e.req(t, admin, "GET", "/profile", "", "")
	require.NotEmpty(t, parseHTML(t, body).Find(`form[action="/profile/password"]`).AttrOr("data-confirm", ""))
	_, body = e.req(t, admin, "GET", "/media", "", "")
	media := parseHTML(t, body).Find(`[data-testid=media-start]`)
	require.NotEmpty(t, media.AttrOr("data-confirm", ""))
	require.Equal(t, "delete_local", media.AttrOr("data-confirm-if", ""))

	// Pausing asks; while paused the dashboard warns.
	var sid int64
	require.NoError(t, e.d.Pool.QueryRow(ctx, `INSERT INTO schedules (name, kind, cadence, time_of_day, timezone, active)
		VALUES ('nightly', 'database', 'daily', '02:00', 'UTC', true) RETURNING id`).Scan(&sid))
	_, body = e.req(t, admin, "GET", "/schedules", "", "")
	require.NotEmpty(t, parseHTML(t, body).Find(`form[action$="/toggle"]`).AttrOr("data-confirm", ""))
	_, body = e.req(t, admin, "GET", "/", "", "")
	require.Zero(t, parseHTML(t, body).Find(`[data-testid=paused-schedule]`).Length())
	resp, _ := e.req(t, admin, "POST", "/schedules/"+idText(sid)+"/toggle", "", "x=1")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body = e.req(t, admin, "GET", "/", "", "")
	require.Contains(t, parseHTML(t, body).Find(`[data-testid=paused-schedule]`).Text(), "nightly")

	// Delete and Restore without JavaScript: the openers are links to pages holding the same forms.
	id := seedBackup(t, e, "succeeded", "1 hour")
	_, err := e.d.Pool.Exec(ctx, `UPDATE backups SET storage_key = 'x/1.dump', sha256 = 'ab' WHERE id = $1`, id)
	require.NoError(t, err)
	_, body = e.req(t, admin, "GET", "/backups/"+idText(id), "", "")
	doc = parseHTML(t, body)
	require.Equal(t, "/backups/"+idText(id)+"/delete", doc.Find(`[data-testid=delete-open]`).AttrOr("href", ""))
	require.Equal(t, "/backups/"+idText(id)+"/restore", doc.Find(`[data-testid=restore-open]`).AttrOr("href", ""))
	resp, body = e.req(t, admin, "GET", "/backups/"+idText(id)+"/delete", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, parseHTML(t, body).Find(`main [data-testid=delete-form] input[name=confirm]`).Length())
	resp, body = e.req(t, admin, "POST", "/backups/"+idText(id)+"/delete", "", "confirm=nope")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, parseHTML(t, body).Find(`[data-testid=delete-error]`).Text(), "delete-"+idText(id))
	resp, body = e.req(t, admin, "GET", "/backups/"+idText(id)+"/restore", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	form := parseHTML(t, body).Find(`main [data-testid=restore-form]`)
	require.Equal(t, 1, form.Length())
	require.Empty(t, form.AttrOr("hx-post", ""), "the page's form is a plain post")
	resp, body = e.req(t, admin, "POST", "/backups/"+idText(id)+"/restore", "", "target_db=pis_copy&confirm=other")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	doc = parseHTML(t, body)
	require.NotEmpty(t, strings.TrimSpace(doc.Find(`[data-testid=restore-error]`).Text()))
	require.Equal(t, "pis_copy", doc.Find(`input[name=target_db]`).AttrOr("value", ""))
	// Viewers get neither page.
	viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
	resp, _ = e.req(t, viewer, "GET", "/backups/"+idText(id)+"/delete", "", "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// "Test connection": each button (and POST /api/v1/checks/{group}) runs that group of the preflight checks now
// and answers in one line per check; a broken setting names what to fix.
func TestTestConnection(t *testing.T) {
	t.Parallel()
	// A source database that does not exist: the source check must say so and name the variable. (Not the
	// default SOURCE_DATABASE_URL: its pis_demo exists on any machine that ran `make run` first.)
	e := newAuthEnvVars(t, false, map[string]string{
		"SOURCE_DATABASE_URL": "postgres://postgres@/pisbackup_no_such_clinic_db?host=/var/run/postgresql"}, nil)
	op := e.tokens[auth.Operator]
	resp, body := e.req(t, nil, "POST", "/api/v1/checks/storage", op, "{}")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var got struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Line  string `json:"line"`
			Check struct {
				Name string `json:"name"`
				OK   bool   `json:"ok"`
			} `json:"check"`
		} `json:"checks"`
	}
	require.NoError(t, jsonUnmarshal(body, &got))
	require.True(t, got.OK, body)
	require.Len(t, got.Checks, 1)
	require.Contains(t, got.Checks[0].Line, "wrote, read back and deleted a probe")
	require.NotContains(t, got.Checks[0].Line, "\n")

	resp, body = e.req(t, nil, "POST", "/api/v1/checks/source", op, "{}")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NoError(t, jsonUnmarshal(body, &got))
	require.False(t, got.OK, body)
	require.Contains(t, got.Checks[0].Line, "FAIL")
	require.Contains(t, got.Checks[0].Line, "SOURCE_DATABASE_URL")

	resp, body = e.req(t, nil, "POST", "/api/v1/checks/sendgrid", op, "{}")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NoError(t, jsonUnmarshal(body, &got))
	require.True(t, strings.HasPrefix(got.Checks[0].Line, "skip "), body)

	resp, body = e.req(t, nil, "POST", "/api/v1/checks/everything", op, "{}")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	requireJSONError(t, body, "not_found", "unknown group")
	require.Contains(t, body, "cloudinary")
	resp, _ = e.req(t, nil, "POST", "/api/v1/checks/storage", e.tokens[auth.Viewer], "{}")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// The page: operators see the four buttons on Health; a click swaps the lines in beside it.
	c, _ := e.login(t, "operator@clinic.test", testPassword)
	_, body = e.req(t, c, "GET", "/health", "", "")
	doc := parseHTML(t, body)
	for _, g := range []string{"source", "storage", "sendgrid", "cloudinary"} {
		require.Equal(t, 1, doc.Find(`[data-testid=check-`+g+`]`).Length(), g)
	}
	resp, body = e.req(t, c, "POST", "/checks/source", "", "x=1", "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lines := parseHTML(t, body).Find(`[data-testid=check-line]`)
	require.Positive(t, lines.Length(), body)
	require.Contains(t, lines.First().Text(), "FAIL")
	// Without JavaScript the same answer is a page.
	resp, body = e.req(t, c, "POST", "/checks/storage", "", "x=1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, parseHTML(t, body).Find(`main`).Text(), "probe")
	viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
	_, body = e.req(t, viewer, "GET", "/health", "", "")
	require.Zero(t, parseHTML(t, body).Find(`[data-testid=test-connections]`).Length())
}

// Lists people can use: schedules show their last run and its outcome and say "Saved"; the form shows only
// the fields the cadence uses; the backups list shows verification, the schedule's name and the failure
// reason, links whole rows, and its wide tables scroll inside focusable regions.
func TestListsPeopleCanUse(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	c, _ := e.login(t, "operator@clinic.test", testPassword)
	form := url.Values{"name": {"nightly"}, "kind": {"database"}, "cadence": {"daily"}, "time_of_day": {"02:00"},
		"weekday": {"0"}, "day_of_month": {"1"}, "timezone": {"UTC"}, "keep_last": {"7"}, "keep_daily": {"7"},
		"keep_weekly": {"4"}, "keep_monthly": {"6"}, "max_age_days": {"0"}, "verify_level": {"checksum"}, "active": {"true"}}
	resp, body := e.req(t, c, "POST", "/schedules", "", form.Encode())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	loc := resp.Header.Get("Location")
	_, body = e.req(t, c, "GET", loc, "", "")
	doc := parseHTML(t, body)
	require.Contains(t, doc.Find(`[data-testid=saved]`).Text(), "nightly")
	require.Contains(t, doc.Find(`[data-testid=last-run]`).Text(), "not yet")

	var sid int64
	require.NoError(t, e.d.Pool.QueryRow(ctx, `SELECT id FROM schedules WHERE name = 'nightly'`).Scan(&sid))
	// Two failed scheduled runs: the list says the last one failed and why (not "Last run —").
	var failed int64
	for i := 0; i < 2; i++ {
		require.NoError(t, e.d.Pool.QueryRow(ctx, `INSERT INTO backups (kind, status, trigger, format, schedule_id, queued_at, started_at, finished_at, error)
			VALUES ('database', 'failed', 'schedule', 'x', $1, now() - $2 * interval '1 day', now(), now(),
			        'pg_dump: error: connection to server failed: Connection refused') RETURNING id`, sid, 2-i).Scan(&failed))
	}
	_, body = e.req(t, c, "GET", "/schedules", "", "")
	last := parseHTML(t, body).Find(`[data-testid=last-run]`)
	require.Contains(t, last.Find(`[data-testid=status]`).Text(), "failed")
	require.Contains(t, last.Text(), "could not reach the clinic database")
	require.Equal(t, "/backups/"+idText(failed), last.Find("a").AttrOr("href", ""))
	require.Zero(t, parseHTML(t, body).Find(`[data-testid=saved]`).Length(), "Saved only right after saving")

	// The form: a daily schedule shows no weekday, day-of-month or cron fields.
	_, body = e.req(t, c, "GET", "/schedules/"+idText(sid), "", "")
	doc = parseHTML(t, body)
	for name, hidden := range map[string]bool{"time_of_day": false, "weekday": true, "day_of_month": true, "cron_expr": true, "timezone": false} {
		_, isHidden := doc.Find(`[name=` + name + `]`).Closest(`[data-cadence]`).Attr("hidden")
		require.Equal(t, hidden, isHidden, name)
	}

	// The backups list.
	ok := seedBackup(t, e, "succeeded", "3 hours")
	seedDrill(t, e, ok, 1000)
	_, body = e.req(t, c, "GET", "/backups", "", "")
	doc = parseHTML(t, body)
	row := doc.Find(`[data-testid=backup-row-` + idText(ok) + `]`)
	require.Contains(t, row.Find(`[data-testid=verified]`).Text(), "drill")
	row = doc.Find(`[data-testid=backup-row-` + idText(failed) + `]`)
	require.Contains(t, row.Text(), "nightly", "the schedule's name, not just 'schedule'")
	require.Contains(t, row.Find(`[data-testid=failure-reason]`).Text(), "could not reach")
	require.Equal(t, "row-link", row.Find("a").AttrOr("class", ""))
	scroll := doc.Find(`.scroll`)
	require.Positive(t, scroll.Length())
	scroll.Each(func(_ int, s *goquery.Selection) {
		require.Equal(t, "0", s.AttrOr("tabindex", ""), "scrollable regions must be focusable")
		require.NotEmpty(t, s.AttrOr("aria-label", ""))
	})
}

// The "Smaller" list: a new API token defaults to the least role, htmx is served compressed, pages name a
// favicon, and after a failed sign-in the focus is on the password (the e-mail is kept).
func TestSmallerThings(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	admin, _ := e.login(t, "admin@clinic.test", testPassword)
	_, body := e.req(t, admin, "GET", "/admin/tokens", "", "")
	doc := parseHTML(t, body)
	require.Equal(t, "viewer", doc.Find(`form[action="/admin/tokens"] select[name=role] option[selected]`).AttrOr("value", ""))
	// A form post without a role (an older page, a script) also gets the least role, not the user's.
	form := url.Values{"user_id": {idText(e.users[auth.Admin].ID)}, "name": {"report"}, "expires": {"30d"}}
	resp, body := e.req(t, admin, "POST", "/admin/tokens", "", form.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var role string
	require.NoError(t, e.d.Pool.QueryRow(context.Background(), `SELECT role FROM api_tokens WHERE name = 'report'`).Scan(&role))
	require.Equal(t, "viewer", role)

	icon := doc.Find(`link[rel=icon]`).AttrOr("href", "")
	require.True(t, strings.HasPrefix(icon, "/static/"), icon)
	resp, _ = e.req(t, nil, "GET", icon, "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	htmx := doc.Find(`script[src*="htmx"]`).AttrOr("src", "")
	require.NotEmpty(t, htmx)
	tr := &http.Transport{DisableCompression: true} // see the encoding as sent
	c := &http.Client{Transport: tr}
	for enc, want := range map[string]string{"gzip, deflate, br": "gzip", "identity": "", "gzip;q=0": ""} {
		r, _ := http.NewRequest("GET", e.srv.URL+htmx, nil)
		r.Header.Set("Accept-Encoding", enc)
		resp, err := c.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.Header.Get("Content-Encoding"), enc)
		require.Contains(t, resp.Header.Get("Content-Type"), "javascript", enc)
		require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
	}

	anon := e.client(t)
	resp, body = e.req(t, anon, "POST", "/login", "", url.Values{"email": {"viewer@clinic.test"}, "password": {"wrong password!"}}.Encode())
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	doc = parseHTML(t, body)
	_, pw := doc.Find(`input[name=password]`).Attr("autofocus")
	_, em := doc.Find(`input[name=email]`).Attr("autofocus")
	require.True(t, pw, "focus the password after a failed sign-in")
	require.False(t, em)
}

// Readable charts: labels about 12 px high when a chart is shown 240 px wide on a phone, every value in a
// table beside the chart (reachable by keyboard and touch), metrics named for people.
func TestReadableCharts(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	seedBackup(t, e, "succeeded", "2 hours")
	_, err := e.d.Pool.Exec(ctx, `INSERT INTO health_metrics (metric, value, unit, recorded_at) VALUES
		('monitor_status', 2, 'level', now()), ('last_good_backup_age_seconds_database', 7200, 'seconds', now())`)
	require.NoError(t, err)
	viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
	_, body := e.req(t, viewer, "GET", "/health?range=7d", "", "")
	doc := parseHTML(t, body)
	svg := doc.Find(`[data-testid=chart-size] svg`)
	var w float64
	_, err = fmt.Sscanf(strings.Fields(svg.AttrOr("viewBox", ""))[2], "%g", &w)
	require.NoError(t, err)
	svg.Find("text").Each(func(_ int, s *goquery.Selection) {
		var size float64
		_, err := fmt.Sscanf(s.AttrOr("font-size", "0"), "%g", &size)
		require.NoError(t, err)
		require.GreaterOrEqual(t, size*240/w, 11.0, "label %q would be %.1f px at 240 px wide", s.Text(), size*240/w)
	})
	table := doc.Find(`[data-testid=chart-size] [data-testid=chart-table] table`)
	require.Equal(t, 1, table.Length(), "the values beside the chart")
	require.Contains(t, table.Text(), "database succeeded")
	latest := doc.Find(`[data-testid=health-latest]`).Text()
	require.Contains(t, latest, "Overall health")
	require.Contains(t, latest, "Critical")
	require.Contains(t, latest, "Newest good backup age (database)")
	require.NotContains(t, latest, "last_good_backup_age_seconds_database")
}
