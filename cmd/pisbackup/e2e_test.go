package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
)

var passwordLine = regexp.MustCompile(`password \(shown once, not stored\): (\S+)`)

// addUser creates a user through the CLI (as staff would) and returns its generated password.
func addUser(t *testing.T, env map[string]string, email, role string) string {
	t.Helper()
	out, stderr, code := runCLI(t, env, "create-user", "--email", email, "--role", role)
	require.Equal(t, 0, code, stderr)
	m := passwordLine.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	return m[1]
}

// login signs in through the real form.
func login(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top nav`)),
	))
}

// waitFor evaluates a JavaScript condition until it holds, surviving the page navigating meanwhile (which
// destroys the context an in-page poll would run in).
func waitFor(t *testing.T, ctx context.Context, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + "\n" + document.body.innerText`))
			t.Fatalf("condition not met within %s: %s (last error: %v)\npage now:\n%s", timeout, cond, err, page)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return s
}

// A viewer sees no action buttons, and a forged POST from its session is refused with 403.
func TestE2EViewerSeesNoActions(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	srv := startServer(t, env)
	pw := addUser(t, env, "nurse@clinic.local", "viewer")
	ctx := browser(t)
	login(t, ctx, srv.url, "nurse@clinic.local", pw)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=verdict]`))))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=backup-now], button.primary, button.danger').length`))
	require.NoError(t, err)
	require.Zero(t, n, "a viewer must see no action buttons on the dashboard")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/backups"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=backup-table]`))))
	n, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=backup-now]').length`))
	require.NoError(t, err)
	require.Zero(t, n)

	// A forged same-site POST with the viewer's own session: the server refuses it whatever the page shows.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/backups', {method: 'POST',
		headers: {'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true'}, body: 'kind=database'}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, status)
}

// An operator sends a test e-mail from the alerts page and finds it in the development outbox.
func TestE2ETestEmailLandsInOutbox(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	srv := startServer(t, env)
	pw := addUser(t, env, "staff@clinic.local", "operator")
	ctx := browser(t)
	login(t, ctx, srv.url, "staff@clinic.local", pw)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/alerts"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=test-email] input[name=email]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=test-email] input[name=email]`), "it-desk@clinic.local"),
		chromedp.Click(chromedp.CSS(`[data-testid=test-email] button[type=submit]`)),
	))
	// The form posts and comes back to the alerts page with the new e-mail in its log.
	waitFor(t, ctx, `location.pathname === '/alerts' && !!document.querySelector('[data-testid=email-log]') &&
		document.querySelector('[data-testid=email-log]').innerText.includes('it-desk@clinic.local')`, 30*time.Second)
	require.Eventually(t, func() bool {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/outbox"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=outbox]`))))
		return strings.Contains(text(t, ctx, `[data-testid=outbox]`), "it-desk@clinic.local")
	}, 30*time.Second, 500*time.Millisecond, "the test e-mail must appear in /outbox")
	require.Contains(t, text(t, ctx, `[data-testid=outbox]`), "[USC-PIS]")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=outbox] tbody a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=outbox-message] iframe`))))
}

// Anonymous visitors are sent to the login page, and a cross-site form POST is refused.
func TestE2EAnonymousAndCrossSite(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	srv := startServer(t, env)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.url + "/backups")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Location"), "/login")

	req, _ := http.NewRequest(http.MethodPost, srv.url+"/login", strings.NewReader(url.Values{"email": {"x@y.z"}, "password": {"p"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err = client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
}

// An operator creates a cron schedule and sees the five-run preview update as they type; an invalid cron
// expression gets a field error, live and on save.
func TestE2EScheduleCronPreviewAndFieldError(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	srv := startServer(t, env)
	pw := addUser(t, env, "staff@clinic.local", "operator")
	ctx := browser(t)
	login(t, ctx, srv.url, "staff@clinic.local", pw)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/schedules/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=schedule-form]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), "Quarter-hourly database (night)"),
		chromedp.SetValue(chromedp.CSS(`select[name=cadence]`), "cron"),
		chromedp.SendKeys(chromedp.CSS(`input[name=cron_expr]`), "*/15 2-4 * * *"),
	))
	waitFor(t, ctx, `document.querySelectorAll('[data-testid=preview-run]').length === 5`, 20*time.Second)
	first := text(t, ctx, `[data-testid=preview-run]`)
	require.Contains(t, first, "02:00", "the first run of */15 2-4 is 02:00 in the schedule's zone")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=schedule-save]`))))
	waitFor(t, ctx, `location.pathname.startsWith('/schedules') && !location.pathname.endsWith('/new') &&
		document.body.innerText.includes('Quarter-hourly database (night)')`, 20*time.Second)

	// Now a cron expression that cannot parse.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/schedules/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=schedule-form]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), "Broken"),
		chromedp.SetValue(chromedp.CSS(`select[name=cadence]`), "cron"),
		chromedp.SendKeys(chromedp.CSS(`input[name=cron_expr]`), "61 * * * *"),
	))
	waitFor(t, ctx, `!!document.querySelector('[data-testid=preview-error]')`, 20*time.Second)
	require.Contains(t, strings.ToLower(text(t, ctx, `[data-testid=preview-error]`)), "cron")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=schedule-save]`))))
	waitFor(t, ctx, `!!document.querySelector('[data-testid=error-cron_expr]')`, 20*time.Second)
	require.NotEmpty(t, text(t, ctx, `[data-testid=error-cron_expr]`))
}

// The operator's path: sign in → "Back up now" on the dashboard → watch the progress bar → see it succeed →
// run a drill from the backup's page → see the measured RTO and a green verdict on the dashboard.
func TestE2EOperatorBackupDrillAndRTO(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["PG_BIN_DIR"] = testdb.SlowPGDumpDir(t, "0.1")
	srv := startServer(t, env)
	pw := addUser(t, env, "staff@clinic.local", "operator")
	ctx := browser(t)
	login(t, ctx, srv.url, "staff@clinic.local", pw)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=verdict]`)),
	))
	require.Equal(t, "red", attr(t, ctx, `[data-testid=verdict]`, "data-level"), "never backed up")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=backup-now]`))))
	waitFor(t, ctx, `!!document.querySelector('[data-testid=last-database] [data-testid=progress]')`, 30*time.Second)
	waitFor(t, ctx, `!!document.querySelector('[data-testid=toast]')`, 10*time.Second)
	waitFor(t, ctx, `(document.querySelector('[data-testid=last-database] [data-testid=status]') || {}).innerText === 'succeeded'`, 120*time.Second)
	// Once done, the page slows to its idle refresh (it never stops: others' work must show up too).
	waitFor(t, ctx, `document.getElementById('dash-live').getAttribute('hx-trigger') === 'every 10s'`, 10*time.Second)

	href := attr(t, ctx, `[data-testid=last-database] a`, "href")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.url+href),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=verify-drill]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=verify-drill]`)),
	))
	waitFor(t, ctx, `!!document.querySelector('[data-testid=drill-tables]')`, 120*time.Second)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=verdict]`))))
	// Recoverable as far as backups go: what is left is set-up this test leaves undone (no schedule, no SendGrid),
	// which the one recoverability state reports as a warning.
	require.Equal(t, "amber", attr(t, ctx, `[data-testid=verdict]`, "data-level"), text(t, ctx, `[data-testid=verdict-sentence]`))
	rules, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=problems] li')].map(li => li.dataset.rule + ' ' + li.dataset.subject)`))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"backup_stale kind:database", "email_failing config"}, rules)
	require.Contains(t, text(t, ctx, `[data-testid=verdict-sentence]`), "drill took")
	require.NotContains(t, text(t, ctx, `[data-testid=rto]`), "unknown")
}

func attr(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('`+sel+`') || {getAttribute: () => ''}).getAttribute('`+name+`') || ''`))
	require.NoError(t, err, sel)
	return v
}

// A backup started by someone else (here the CLI) appears on an idle dashboard and an open backup page
// without a reload, and every fact on the page changes together: the verdict agrees with the card, the
// backup page's heading badge and its Verify/Drill buttons follow the backup's end.
func TestE2EIdlePagesStayLive(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["PG_BIN_DIR"] = testdb.SlowPGDumpDir(t, "0.1")
	srv := startServer(t, env)
	pw := addUser(t, env, "staff@clinic.local", "operator")
	ctx := browser(t)
	login(t, ctx, srv.url, "staff@clinic.local", pw)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=verdict]`))))
	require.Equal(t, "red", attr(t, ctx, `[data-testid=verdict]`, "data-level"))
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad = true`))
	require.NoError(t, err)

	out, stderr, code := runCLI(t, env, "create-backup", "--type", "database", "--no-wait")
	require.Equal(t, 0, code, stderr+out)

	waitFor(t, ctx, `(document.querySelector('[data-testid=last-database] [data-testid=status]') || {}).innerText === 'succeeded'`, 90*time.Second)
	// The banner agrees with the card: a backup exists now, so it no longer says none was taken.
	waitFor(t, ctx, `document.querySelector('[data-testid=verdict]').getAttribute('data-level') === 'amber'`, 15*time.Second)
	require.NotContains(t, text(t, ctx, `[data-testid=verdict-sentence]`), "has been taken yet")
	require.Contains(t, text(t, ctx, `[data-testid=verdict-sentence]`), "succeeded")
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad === true`))
	require.NoError(t, err)
	require.True(t, same, "the dashboard must update without a reload")

	// A second backup, watched on its own page: badge, facts and buttons follow it to its end.
	out, stderr, code = runCLI(t, env, "create-backup", "--type", "database", "--no-wait", "--json")
	require.Equal(t, 0, code, stderr+out)
	m := regexp.MustCompile(`"id":\s*(\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/backups/"+m[1]), chromedp.WaitVisible(chromedp.CSS(`#backup-live`))))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad = true`))
	require.NoError(t, err)
	require.Zero(t, count(t, ctx, `[data-testid=verify-drill]`), "no drill before the backup finished")
	waitFor(t, ctx, `document.querySelector('.head [data-testid=status]').innerText === 'succeeded' &&
		!!document.querySelector('[data-testid=verify-drill]') &&
		document.querySelector('#backup-summary [data-testid=status]').innerText === 'succeeded'`, 90*time.Second)
	same, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad === true`))
	require.NoError(t, err)
	require.True(t, same, "the backup page must update without a reload")
}

func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	require.NoError(t, err, sel)
	return n
}
