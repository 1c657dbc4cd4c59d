package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/demo"
)

// staffCatalog is a catalog with something on every page staff use: a drilled database backup, a full backup,
// a failed backup (its source database does not exist), the default schedules, an alert with its e-mail, a test
// e-mail in the outbox, an API token and seeded media.
type staffCatalog struct {
	env              map[string]string
	good, failed     int64 // backup ids
	schedule         int64 // a schedule's id (the nightly database one)
	recovery         int64 // a record recovery's id (a dry run of one patient)
	viewer, operator string
	admin            string // passwords of viewer@, operator@ and admin@clinic.local
}

func newStaffCatalog(t *testing.T) staffCatalog {
	t.Helper()
	env := cliEnv(t)
	_, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	c := staffCatalog{env: env}
	backup := func(env map[string]string, want string) int64 {
		out, stderr, _ := runCLI(t, env, "create-backup", "--type", "database", "--json")
		var b backupJSON
		require.NoError(t, json.Unmarshal([]byte(out), &b), out+stderr)
		require.Equal(t, want, b.Status, out+stderr)
		return b.ID
	}
	c.good = backup(env, "succeeded")
	broken := maps.Clone(env)
	broken["SOURCE_DATABASE_URL"] = strings.Replace(env["SOURCE_DATABASE_URL"], filepath.Base(strings.Split(env["SOURCE_DATABASE_URL"], "?")[0]), "pisbackup_no_such_db", 1)
	c.failed = backup(broken, "failed")
	for _, args := range [][]string{
		{"verify-backup", "--level", "drill", strconv.FormatInt(c.good, 10)},
		{"create-backup", "--type", "full"},
		{"setup-schedules"},
		{"test-email", "--email", "it@clinic.local"},
		{"monitor-backups", "--send-alerts"},
		{"recover", "--backup", strconv.FormatInt(c.good, 10), "--table", "patients_patient", "--key", "id=1", "--with-related", "--dry-run"},
	} {
		_, stderr, code := runCLI(t, env, args...)
		require.Contains(t, []int{0, 1, 2}, code, "%v: %s", args, stderr) // monitor-backups exits 1 or 2 on a warning
	}
	c.viewer = addUser(t, env, "viewer@clinic.local", "viewer")
	c.operator = addUser(t, env, "operator@clinic.local", "operator")
	c.admin = addUser(t, env, "admin@clinic.local", "admin")
	_, stderr, code := runCLI(t, env, "create-token", "--email", "admin@clinic.local", "--name", "uptime monitor")
	require.Equal(t, 0, code, stderr)
	conn, err := pgx.Connect(context.Background(), env["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT min(id) FROM schedules`).Scan(&c.schedule))
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT max(id) FROM recoveries`).Scan(&c.recovery))
	return c
}

// pages are the pages a role uses, with the ids filled in; the admin's list is every page above.
func (c staffCatalog) pages(role string) []string {
	id := func(p string, n int64) string { return strings.Replace(p, "{id}", strconv.FormatInt(n, 10), 1) }
	all := []string{"/", "/backups", id("/backups/{id}", c.good), id("/backups/{id}", c.failed),
		"/schedules", id("/schedules/{id}", c.schedule), "/health", "/alerts", "/outbox", "/media", "/profile"}
	switch role {
	case "operator":
		return append(all, "/schedules/new", id("/backups/{id}/recover", c.good), id("/recoveries/{id}", c.recovery))
	case "admin":
		return append(all, "/schedules/new", id("/backups/{id}/recover", c.good), id("/recoveries/{id}", c.recovery), id("/backups/{id}/restore", c.good),
			id("/backups/{id}/delete", c.good), "/backups/upload", "/admin/users", "/admin/tokens", "/admin/audit",
			"/no/such/page")
	}
	return all
}

func (c staffCatalog) password(role string) string {
	return map[string]string{"viewer": c.viewer, "operator": c.operator, "admin": c.admin}[role]
}

// axeSource is axe-core's browser build, a devDependency that `make static` (npm ci) installs into
// node_modules; it is injected at test time and never served or committed.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed (%v); `make test` runs `make static`, which runs npm ci", err)
		}
		t.Skipf("axe-core not installed (%v): run `make static`", err)
	}
	return string(b)
}

// axeRun runs every WCAG 2.0/2.1/2.2 level A and AA rule, plus scrollable-region-focusable (a wide table a
// keyboard cannot scroll), on the whole page and returns one line per violation and element.
const axeRun = `(async () => {
	const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
	const rules = axe.getRules(tags).map(r => r.ruleId).concat(['scrollable-region-focusable']);
	const res = await axe.run(document, {runOnly: {type: 'rule', values: rules}, resultTypes: ['violations']});
	const out = [];
	for (const v of res.violations) for (const n of v.nodes)
		out.push(v.id + ' (' + v.impact + '): ' + v.help + ' at ' + n.target.join(' ') + ': ' +
			(n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 300));
	return {rules: rules.length, out};
})()`

// settled is true once the page has loaded and no HTMX request (a live region's first swap) is in flight.
const settled = `document.readyState === "complete" && !document.querySelector(".htmx-request")`

// visit opens path and waits until it has settled; the 404 page is the only one expected not to be 200.
func visit(t *testing.T, ctx context.Context, base, path string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+path))
	require.NoError(t, err, path)
	want := int64(200)
	if path == "/no/such/page" {
		want = 404
	}
	require.Equal(t, want, resp.Status, path)
	waitFor(t, ctx, settled, 20*time.Second)
}

// Every page staff use, as each role sees it, at desktop and phone width, has no WCAG 2 A/AA violation that
// axe-core finds and no wide region a keyboard cannot scroll; so do the login page and the 404 page.
func TestE2EAxeFindsNoViolations(t *testing.T) {
	t.Parallel()
	axeJS := axeSource(t)
	c := newStaffCatalog(t)
	srv := startServer(t, c.env)
	check := func(t *testing.T, ctx context.Context, where string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`))
		require.NoError(t, err)
		if !ok {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[any](axeJS+";0"))
			require.NoError(t, err, "inject axe-core")
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Rules int      `json:"rules"`
			Out   []string `json:"out"`
		}](axeRun, chromedp.EvalAwaitPromise))
		require.NoError(t, err, where)
		require.Greater(t, res.Rules, 50, "axe-core ran its WCAG rules on %s", where)
		if len(res.Out) > 0 {
			t.Errorf("axe on %s:\n  %s", where, strings.Join(res.Out, "\n  "))
		}
	}
	for _, role := range []string{"viewer", "operator", "admin"} {
		t.Run(role, func(t *testing.T) {
			ctx := browser(t)
			for _, w := range screenshotWidths {
				require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w.width, w.height)))
				if role == "admin" { // the signed-out page once, as everyone first sees it
					visit(t, ctx, srv.url, "/login")
					check(t, ctx, fmt.Sprintf("/login at %d px", w.width))
				}
				if w.name == "desktop" {
					login(t, ctx, srv.url, role+"@clinic.local", c.password(role))
				}
				for _, p := range c.pages(role) {
					visit(t, ctx, srv.url, p)
					check(t, ctx, fmt.Sprintf("%s as %s at %d px", p, role, w.width))
				}
				if role == "admin" && w.name == "desktop" { // sign out for the phone-width login page
					require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/"),
						chromedp.Click(chromedp.CSS(`form.who button[type=submit]`)),
						chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`))))
				}
			}
		})
	}
}

// dateLines finds every date in the page's text ("2026-11-30", "2026-11-30 01:30", with a UTC offset when one
// follows) outside SVG and names each one that wraps onto more than one line, or that is not inside a <time>
// element (the one helper, views.Chrome.When, that renders times unbreakable).
const dateLines = `(() => {
	const re = /\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?(?: UTC[+-]\d{2}:\d{2})?\b/g;
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	const out = [];
	let found = 0;
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const el = n.parentElement;
		// Quoted machine text (a manifest, an e-mail's source, audit details) keeps the dates it quotes.
		if (!el || el.closest('svg, script, style, template, [hidden], pre, code, kbd, samp') || !el.getClientRects().length) continue;
		for (const m of n.data.matchAll(re)) {
			found++;
			const r = document.createRange();
			r.setStart(n, m.index);
			r.setEnd(n, m.index + m[0].length);
			const lines = new Set([...r.getClientRects()].filter(q => q.width > 0).map(q => Math.round(q.top)));
			const where = el.tagName.toLowerCase() + (el.closest('[data-testid]') ? ' in [' + el.closest('[data-testid]').dataset.testid + ']' : '');
			if (lines.size > 1) out.push('"' + m[0] + '" wraps onto ' + lines.size + ' lines (' + where + ')');
			if (!el.closest('time')) out.push('"' + m[0] + '" is not in a <time> (' + where + ')');
		}
	}
	return {found, out};
})()`

// At phone width no date on any page wraps ("2026-11-|30"): every date and time staff read stays on one line,
// comes from the one helper that renders it as an unbreakable <time>, and pushes no page sideways.
func TestE2EDatesNeverWrap(t *testing.T) {
	t.Parallel()
	c := newStaffCatalog(t)
	srv := startServer(t, c.env)
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(360, 780)))
	login(t, ctx, srv.url, "admin@clinic.local", c.admin)
	total := 0
	for _, p := range c.pages("admin") {
		visit(t, ctx, srv.url, p)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Found int      `json:"found"`
			Out   []string `json:"out"`
		}](dateLines))
		require.NoError(t, err, p)
		total += got.Found
		if len(got.Out) > 0 {
			t.Errorf("dates on %s at 360 px:\n  %s", p, strings.Join(got.Out, "\n  "))
		}
		// An unbreakable date must not push the page sideways instead.
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowJS))
		require.NoError(t, err)
		if len(wide) > 0 {
			t.Errorf("%s scrolls sideways at 360 px; too wide: %v", p, wide)
		}
	}
	require.Greater(t, total, 20, "the pages show dates (backups, runs, alerts, audit) for this test to check")
}
