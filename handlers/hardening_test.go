package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/static"
)

// Issue 15: every input below succeeded before and must not.

// frozen is a clock that does not move, so no throttle bucket refills however slow the machine is.
func frozen() func() time.Time {
	t0 := time.Now()
	return func() time.Time { return t0 }
}

// loginFrom posts the login form as a client at addr (believed only with TRUSTED_PROXIES covering the test's
// loopback peer).
func (e *authEnv) loginFrom(t *testing.T, addr, email, password, next string, hdr ...string) (*http.Response, string) {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	return e.req(t, nil, "POST", "/login", "", form.Encode(), append([]string{"X-Forwarded-For", addr}, hdr...)...)
}

// After sign-in, "next" only ever leads to a path on this site: every form of off-site URL a browser would
// follow (tab and newline stripped, backslash read as slash, scheme-relative, absolute) goes to "/".
func TestSignInNeverRedirectsOffSite(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	// The input, as the login page receives it.
	resp, body := e.req(t, nil, "GET", "/login?next=%2F%09%2Fevil.example%2F", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	next, _ := doc.Find("input[name=next]").Attr("value")
	require.Equal(t, "/\t/evil.example/", next, "the form carries the raw value back; only the redirect is checked")
	for i, n := range []string{next, "//evil.example", "/\\evil.example", "/\\/evil.example", "https://evil.example",
		"///evil.example", "/\n/evil.example", "/\r/evil.example", "http:evil.example", "\\\\evil.example", " //evil.example",
		"/%2F/evil.example", "//evil.example@clinic.test"} {
		c := e.client(t)
		form := url.Values{"email": {"viewer@clinic.test"}, "password": {testPassword}, "next": {n}}
		resp, err := c.PostForm(e.srv.URL+"/login", form)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%d %q", i, n)
		loc := resp.Header.Get("Location")
		u, err := url.Parse(loc)
		require.NoError(t, err, loc)
		require.True(t, u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//") &&
			!strings.ContainsAny(loc, "\\\t\r\n"), "%q led to %q", n, loc)
		// Followed like a browser does: resolved against the site, the result is still the site.
		base, _ := url.Parse(e.srv.URL + "/login")
		require.Equal(t, base.Host, base.ResolveReference(u).Host, "%q led to %q", n, loc)
		// Signed in, the login page's redirect is held to the same rule.
		resp, err = c.Get(e.srv.URL + "/login?next=" + url.QueryEscape(n))
		require.NoError(t, err)
		resp.Body.Close()
		loc = resp.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.ContainsAny(loc, "\\\t\r\n"), "%q led to %q", n, loc)
	}
	// Same-site targets still work.
	resp, _ = e.loginFrom(t, "", "viewer@clinic.test", testPassword, "/backups?kind=media")
	require.Equal(t, "/backups?kind=media", resp.Header.Get("Location"))
}

// Without TRUSTED_PROXIES, X-Forwarded-For is ignored: a client rotating it neither escapes the per-address
// throttle nor writes its choice of address into the audit log.
func TestForwardedForIgnoredUnlessFromTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newAuthEnvVars(t, false, nil, frozen())
	for i := range 20 {
		resp, _ := e.loginFrom(t, "198.51.100."+idText(int64(i)), "nobody"+idText(int64(i))+"@clinic.test", "wrong password", "")
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, i)
	}
	resp, _ := e.loginFrom(t, "198.51.100.200", "nobody-else@clinic.test", "wrong password", "")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "rotating X-Forwarded-For must not reset the address's budget")
	for _, ev := range e.audit(t, "login.") {
		require.Equal(t, "127.0.0.1", ev.Ip, "the audit log records the peer, not the header")
	}

	// Behind a configured proxy the forwarded client is believed (and only the hop the proxy added).
	p := newAuthEnvVars(t, false, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}, frozen())
	resp, _ = p.loginFrom(t, "6.6.6.6, 203.0.113.9", "viewer@clinic.test", "wrong password", "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	failed := p.audit(t, "login.failed")
	require.Len(t, failed, 1)
	require.Equal(t, "203.0.113.9", failed[0].Ip)
	// A hop that is not an address (a formula, 400 KB of junk) is not believed either.
	resp, _ = p.loginFrom(t, "=HYPERLINK(\"http://evil.example\",\"x\")", "viewer@clinic.test", "wrong password", "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Equal(t, "127.0.0.1", p.audit(t, "login.failed")[0].Ip)
}

// Failing on purpose throttles the guesser's address (and address + account), never the account: the real
// owner, here the only admin, still signs in from their own address with the right password.
func TestGuesserCannotLockOutTheOwner(t *testing.T) {
	t.Parallel()
	e := newAuthEnvVars(t, false, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}, frozen())
	for range 8 {
		_, _ = e.loginFrom(t, "198.51.100.7", "admin@clinic.test", "guess guess guess", "")
	}
	resp, _ := e.loginFrom(t, "198.51.100.7", "admin@clinic.test", testPassword, "")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the guesser's address is throttled for that account")
	resp, _ = e.loginFrom(t, "203.0.113.5", "admin@clinic.test", testPassword, "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the owner, from their own address, is not locked out")
	// Many addresses guessing one account: each address gets its own 5, the owner still gets in.
	for i := range 6 {
		for range 5 {
			_, _ = e.loginFrom(t, "198.51.101."+idText(int64(i)), "admin@clinic.test", "guess guess guess", "")
		}
	}
	resp, _ = e.loginFrom(t, "203.0.113.5", "admin@clinic.test", testPassword, "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// Anonymous requests cannot make the server or the audit log grow: the e-mail is capped at 254 bytes before
// anything remembers it, bodies at 1 MiB, and every recorded text is cut short.
func TestFieldCapsAndSmallAuditRows(t *testing.T) {
	t.Parallel()
	e := newAuthEnvVars(t, false, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}, frozen())
	resp, _ := e.loginFrom(t, "", strings.Repeat("a", 2<<20)+"@clinic.test", "wrong password", "")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "a 2 MB e-mail is refused at the edge")
	resp, body := e.loginFrom(t, "", strings.Repeat("a", 300)+"@clinic.test", "wrong password", "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "at most 254")
	require.NotContains(t, body, strings.Repeat("a", 300), "not echoed back")

	big := strings.Repeat("x", 400<<10)
	resp, _ = e.loginFrom(t, "203.0.113.9, "+big, "viewer@clinic.test", "wrong password", "", "User-Agent", big)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	var maxRow int
	require.NoError(t, e.d.Pool.QueryRow(context.Background(),
		"SELECT max(length(actor) + length(target) + length(ip) + length(user_agent) + coalesce(length(details::text), 0)) FROM audit_events").Scan(&maxRow))
	require.Less(t, maxRow, 6000, "an audit row stays small whatever the request carried")
	_, page := e.req(t, nil, "GET", "/admin/audit", e.tokens[auth.Admin], "")
	require.Less(t, len(page), 200<<10)
}

// The limiter's memory is bounded whatever keys arrive, and looking a key up does not store it.
func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	l := newLoginLimits()
	for i := range 3 * maxBuckets {
		email := strings.Repeat("e", 1000) + idText(int64(i))
		require.False(t, l.blocked("203.0.113.9", email, time.Now()))
		l.failed("198.51.100."+idText(int64(i%250)), email, time.Now())
	}
	require.LessOrEqual(t, l.pair.len(), maxBuckets)
	require.LessOrEqual(t, l.addr.len(), maxBuckets)
	for _, k := range l.pair.c.Keys() {
		require.Len(t, k, 24, "keys are fixed-size hashes, not the typed e-mail")
	}
	n := l.pair.len()
	l.blocked("192.0.2.1", "never-failed@clinic.test", time.Now())
	require.Equal(t, n, l.pair.len(), "a lookup stores nothing")
}

// Issue 15: when the limiter is full it forgets the keys that failed least recently, never the guessers
// throttled now. Before, it dropped refilled buckets and then arbitrary ones, so a flood of fresh keys could
// free a guesser who had just been throttled.
func TestLimiterForgetsTheQuietestFirst(t *testing.T) {
	t.Parallel()
	l := newLoginLimits()
	now := time.Now()
	for i := range maxBuckets { // earlier keys fill the limiter, still throttled: nothing refilled
		l.failed("198.51.100.1", "old"+idText(int64(i))+"@x.test", now)
	}
	var active []string
	for i := range 50 { // fifty guessers hammering now
		email := "victim" + idText(int64(i)) + "@clinic.test"
		for range perAddressAccount.burst {
			l.failed("203.0.113.7", email, now)
		}
		require.True(t, l.pair.blocked(bucketKey(guesser("203.0.113.7"), email), now))
		active = append(active, email)
	}
	for i := range maxBuckets / 2 { // a flood of new keys
		l.failed("192.0.2.9", "flood"+idText(int64(i))+"@x.test", now)
	}
	for _, email := range active {
		require.True(t, l.pair.blocked(bucketKey(guesser("203.0.113.7"), email), now), "%s was forgotten", email)
	}
	require.Equal(t, maxBuckets, l.pair.len())
}

// Whatever a client sends is recorded (sanitized), and an action whose audit row cannot be written does not
// happen: a download refused by the audit log streams nothing.
func TestAuditCannotBeDodged(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	w, err := e.d.Store.Create(ctx, "database/test.dump.zst.age")
	require.NoError(t, err)
	_, err = w.Write([]byte("age-encryption.org/v1 secret bytes"))
	require.NoError(t, err)
	require.NoError(t, w.Commit())
	var id int64
	require.NoError(t, e.d.Pool.QueryRow(ctx, `INSERT INTO backups (kind, status, trigger, format, storage_key, started_at, finished_at)
		VALUES ('database', 'succeeded', 'manual', 'x', 'database/test.dump.zst.age', now(), now()) RETURNING id`).Scan(&id))
	dl := "/api/v1/backups/" + idText(id) + "/download"

	resp, body := e.req(t, nil, "GET", dl, e.tokens[auth.Admin], "", "User-Agent", "evil\xff")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	rows := e.audit(t, "backup.download")
	require.Len(t, rows, 1, "invalid UTF-8 in the user agent must not stop the audit row")
	require.Equal(t, "evil\uFFFD", rows[0].UserAgent)
	// A NUL in a typed e-mail (PostgreSQL text refuses it) is recorded too.
	resp, _ = e.req(t, nil, "POST", "/login", "", url.Values{"email": {"a\x00b@clinic.test\xfe"}, "password": {"wrong password"}}.Encode())
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	failed := e.audit(t, "login.failed")
	require.Len(t, failed, 1)
	require.Equal(t, "user:a\uFFFDb@clinic.test\uFFFD", failed[0].Target)

	// The audit log refuses writes: nothing streams, the caller is told why.
	_, err = e.d.Pool.Exec(ctx, `CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
		CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit();`)
	require.NoError(t, err)
	resp, body = e.req(t, nil, "GET", dl, e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotContains(t, body, "secret bytes")
	require.Contains(t, body, "audit log could not record")
	resp, body = e.req(t, nil, "GET", "/admin/audit.csv", e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
}

// audit.csv escapes every column the spreadsheet way, whatever wrote the row.
func TestAuditCSVEscapesEveryColumn(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	// A row as an older version (or a forged proxy header) could have written it: formulas in every text column.
	_, err := e.d.Pool.Exec(context.Background(), `INSERT INTO audit_events (actor, action, target, ip, user_agent, details)
		VALUES ('=1+1', '@SUM(A1)', '+cmd', '=HYPERLINK("http://evil.example","x")', '-2+3', '"=x"')`)
	require.NoError(t, err)
	_, _ = e.req(t, nil, "GET", "/backups", e.tokens[auth.Viewer], "", "User-Agent", " =HYPERLINK(\"http://evil.example\")")
	resp, body := e.req(t, nil, "GET", "/admin/audit.csv", e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(recs), 2)
	for _, rec := range recs[1:] {
		for i, cell := range rec {
			c := strings.TrimLeft(cell, " ")
			require.False(t, c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])), "column %s: %q is a formula", recs[0][i], cell)
		}
	}
	require.Contains(t, body, `'=HYPERLINK`)
	// A NO-BREAK SPACE (or any invisible character) in front no longer hides the formula.
	_, _ = e.req(t, nil, "POST", "/login", "", url.Values{"email": {"x@clinic.test"}, "password": {"wrong password"}}.Encode(),
		"User-Agent", "\u00a0\u200b=HYPERLINK(\"http://evil.example\")")
	_, body = e.req(t, nil, "GET", "/admin/audit.csv", e.tokens[auth.Admin], "")
	require.Contains(t, body, "'\u00a0\u200b=HYPERLINK")
}

// Every answer carries the security headers; data is never cached; HSTS only when BASE_URL is https.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	for _, p := range []string{"/login", "/", "/api/v1/backups", "/api/v1/status", "/admin/audit", "/admin/audit.csv", "/healthz", "/nope"} {
		resp, _ := e.req(t, nil, "GET", p, e.tokens[auth.Admin], "")
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			require.Contains(t, csp, d, p)
		}
		require.NotContains(t, csp, "unsafe", p)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), p)
		require.Equal(t, "same-origin", h.Get("Referrer-Policy"), p)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), p)
		require.Equal(t, "no-store", h.Get("Cache-Control"), p)
		require.Empty(t, h.Get("Strict-Transport-Security"), "plain-http BASE_URL: no HSTS")
	}
	resp, _ := e.req(t, nil, "GET", static.URL("css/app.css"), "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Cache-Control"), "immutable", "content-hashed static files stay cacheable")

	s := newAuthEnvVars(t, false, map[string]string{"BASE_URL": "https://backups.clinic.example"}, nil)
	resp, _ = s.req(t, nil, "GET", "/login", "", "")
	require.Equal(t, "max-age=31536000", resp.Header.Get("Strict-Transport-Security"))
}

// No page carries inline script, inline event handlers or style attributes (the policy would refuse them);
// checked on every page an admin can open, the browser test (cmd/pisbackup) checks what Chromium reports.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	id := seedBackup(t, e, "succeeded", "1 hour")
	for _, p := range []string{"/", "/backups", "/backups/" + idText(id), "/backups/" + idText(id) + "/activity", "/backups/upload",
		"/schedules", "/schedules/new", "/health", "/alerts", "/media", "/profile", "/admin/users", "/admin/tokens", "/admin/audit"} {
		doc := e.page(t, auth.Admin, p)
		require.Zero(t, doc.Find("script:not([src]), style, [style]").Length(), "%s has inline script or style", p)
		doc.Find("*").Each(func(_ int, s *goquery.Selection) {
			for _, a := range s.Nodes[0].Attr {
				require.False(t, strings.HasPrefix(strings.ToLower(a.Key), "on") || strings.HasPrefix(strings.ToLower(a.Key), "hx-on"),
					"%s: inline handler %s=%q", p, a.Key, a.Val)
				require.False(t, strings.HasPrefix(strings.TrimSpace(strings.ToLower(a.Val)), "javascript:"), "%s: %s=%q", p, a.Key, a.Val)
			}
		})
	}
}

// One IPv6 client holds a whole /64 (SLAAC, privacy addresses, any VPS): rotating the interface identifier
// must not buy a fresh set of guesses, so IPv6 addresses are throttled by their /64.
func TestLoginThrottleCountsAnIPv6SlashSixtyFourAsOneAddress(t *testing.T) {
	t.Parallel()
	l := newLoginLimits()
	now := time.Now()
	for i := range perAddress.burst {
		l.failed("2001:db8:1:2::"+strconv.FormatInt(int64(i+1), 16), "admin@clinic.test", now)
	}
	require.True(t, l.blocked("2001:db8:1:2:ffff::1", "other@clinic.test", now), "the next address of the same /64 is the same guesser")
	require.False(t, l.blocked("2001:db8:1:3::1", "other@clinic.test", now), "another /64 is another client")
	require.False(t, l.blocked("203.0.113.9", "other@clinic.test", now))
}

// Issue 15: an action whose audit row cannot be written does not happen, for state changes too. Before, a
// backup, a schedule or a deletion went ahead and only the audit row after it was lost. Now the row is written
// before the handler runs (outcome "started"), the handler's record completes it ("done"), a refusal ends it
// as "failed" with the reason, and when the row cannot be written the request is refused and nothing changes.
func TestStateChangesAreAuditedBeforeTheyHappen(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	count := func(table string) (n int) {
		require.NoError(t, e.d.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		return n
	}
	schedule, err := json.Marshal(scheduleExample)
	require.NoError(t, err)

	// Audited: the handler's record fills the started row; a refused request ends it as failed.
	resp, body := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], string(schedule))
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	var sched struct{ ID int64 }
	require.NoError(t, jsonUnmarshal(body, &sched))
	require.NotZero(t, sched.ID)
	created := e.audit(t, "schedule.create")
	require.Len(t, created, 1)
	require.Equal(t, "done", created[0].Outcome)
	resp, body = e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], `{"name":""}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	failed := e.audit(t, "POST /api/v1/schedules")
	require.Len(t, failed, 1)
	require.Equal(t, "failed", failed[0].Outcome)
	require.Contains(t, string(failed[0].Details), "error")

	// The audit log refuses writes: no backup, no schedule, no deletion, and the caller is told why.
	backups, schedules := count("backups"), count("schedules")
	_, err = e.d.Pool.Exec(ctx, `CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
		CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit();`)
	require.NoError(t, err)
	for _, c := range []struct{ method, path, token, body string }{
		{"POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"database"}`},
		{"POST", "/api/v1/schedules", e.tokens[auth.Operator], string(schedule)},
		{"DELETE", "/api/v1/schedules/" + idText(sched.ID), e.tokens[auth.Admin], ""},
		{"POST", "/backups", e.tokens[auth.Operator], "kind=database"},
	} {
		resp, body := e.req(t, nil, c.method, c.path, c.token, c.body)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s %s: %s", c.method, c.path, body)
		require.Contains(t, body, "audit log could not record")
	}
	require.Equal(t, backups, count("backups"), "no backup was queued")
	require.Equal(t, schedules, count("schedules"), "no schedule was created or deleted")
}

// A request that reaches no action writes no audit row. Before, the write-ahead row was written for every
// non-GET request the route table let through, and the catch-all 404 route is public: anyone, signed in or
// not, could add a row per request ("anonymous", any path they liked as the target) without limit.
func TestUnknownPathsWriteNoAuditRows(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	var before int
	require.NoError(t, e.d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_events").Scan(&before))
	for _, c := range []struct{ method, path, token string }{
		{"POST", "/admin/users/1/disable-everyone", ""},
		{"DELETE", "/backups/1", ""},
		{"PUT", "/no-such-page", ""},
		{"POST", "/no-such-page", e.tokens[auth.Viewer]},
	} {
		resp, body := e.req(t, nil, c.method, c.path, c.token, "x=1")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s: %s", c.method, c.path, body)
	}
	var after int
	require.NoError(t, e.d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_events").Scan(&after))
	require.Equal(t, before, after, "a 404 wrote audit rows")
}
