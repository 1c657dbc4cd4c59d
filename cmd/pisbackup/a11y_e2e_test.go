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
	return c
}

// pages are the pages a role uses, with the ids filled in; the admin's list is every page above.
func (c staffCatalog) pages(role string) []string {
	id := func(p string, n int64) string { return strings.Replace(p, "{id}", strconv.FormatInt(n, 10), 1) }
	all := []string{"/", "/backups", id("/backups/{id}", c.good), id("/backups/{id}", c.failed),
		"/schedules", id("/schedules/{id}", c.schedule), "/health", "/alerts", "/outbox", "/media", "/profile"}
	switch role {
	case "operator":
		return append(all, "/schedules/new", id("/backups/{id}/recover", c.good))
	case "admin":
		return append(all, "/schedules/new", id("/backups/{id}/recover", c.good), id("/backups/{id}/restore", c.good),
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
