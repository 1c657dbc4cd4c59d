package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// person drives the browser as a member of staff does: from the dashboard, through links and buttons, typing
// into fields, and counts what that took. Every click, typed field and page load goes through it.
type person struct {
	t      *testing.T
	ctx    context.Context
	base   string
	clicks int
	fields int
	loads  atomic.Int64 // main-frame loads, counted from the browser's own events
}

func newPerson(t *testing.T, ctx context.Context, base string) *person {
	t.Helper()
	p := &person{t: t, ctx: ctx, base: base}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventLoadEventFired); ok {
			p.loads.Add(1)
		}
	}))
	return p
}

// home opens the app from a bookmark: the dashboard.
func (p *person) home() {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=verdict]`))))
}

// click clicks what sel names (a link, a button, a checkbox), once it is visible.
func (p *person) click(sel string) {
	p.t.Helper()
	p.clicks++
	require.NoError(p.t, chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(sel))), sel)
}

// nav follows the main navigation's link to path.
func (p *person) nav(path string) {
	p.t.Helper()
	p.click(`header.top nav a[href="` + path + `"]`)
	p.waitFor(`location.pathname === '`+path+`' && document.readyState === 'complete'`, 15*time.Second)
}

// fill replaces what a field holds with value, typed key by key.
func (p *person) fill(sel, value string) {
	p.t.Helper()
	p.fields++
	require.NoError(p.t, chromedp.Do(p.ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value)), sel)
}

// choose picks value in a select.
func (p *person) choose(sel, value string) {
	p.t.Helper()
	p.fields++
	require.NoError(p.t, chromedp.Do(p.ctx, chromedp.SetValue(chromedp.CSS(sel), value)), sel)
}

// waitFor waits, reading the page as it updates itself, until cond holds.
func (p *person) waitFor(cond string, timeout time.Duration) {
	p.t.Helper()
	waitFor(p.t, p.ctx, cond, timeout)
}

func (p *person) read(sel string) string {
	p.t.Helper()
	return strings.Join(strings.Fields(text(p.t, p.ctx, sel)), " ")
}

// staffTask is one line of the table: how long a task took a person, and with how much effort.
type staffTask struct {
	name                  string
	took                  time.Duration
	clicks, fields, loads int
	outcome               string
}

// TestStaffTasks performs, in Chromium against a real server with its workers, the ten things clinic staff
// come to pisbackup for, each from the dashboard as a person would (links, buttons, typing), and asserts each
// outcome on the page (and behind it). It prints how long each took, in wall time, clicks, typed fields and
// page loads (`make staff-tasks`; README "Staff tasks"). Nothing is timed against a limit: the figures are for
// people to read.
func TestStaffTasks(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	_, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	// Yesterday's state: the default schedules, and one nightly backup that failed because the backup role
	// could not read a table (a role without grants, as after a careless change on the clinic's server).
	_, stderr, code := runCLI(t, env, "setup-schedules")
	require.Equal(t, 0, code, stderr)
	broken := maps.Clone(env)
	broken["SOURCE_DATABASE_URL"] = testdb.LoginRole(t, env["SOURCE_DATABASE_URL"], "")
	out, _, code := runCLI(t, broken, "create-backup", "--type", "database", "--json")
	require.Equal(t, 1, code, out)
	failedID := catalogValue[int64](t, env, `SELECT id FROM backups WHERE status = 'failed'`)

	srv := startServer(t, env)
	pw := addUser(t, env, "head@clinic.local", "admin")
	ctx := browser(t)
	downloads := t.TempDir()
	_, err = chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true)})
	require.NoError(t, err)
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	login(t, ctx, srv.url, "head@clinic.local", pw)
	p := newPerson(t, ctx, srv.url)

	var tasks []staffTask
	task := func(name string, do func() string) {
		t.Helper()
		p.clicks, p.fields = 0, 0
		p.loads.Store(0)
		start := time.Now()
		p.home()
		outcome := do()
		tasks = append(tasks, staffTask{name: name, took: time.Since(start), clicks: p.clicks, fields: p.fields,
			loads: int(p.loads.Load()), outcome: outcome})
	}
	var newest string // the backup taken in "Back up now", used by the tasks after it

	task("Are we safe? (read the verdict)", func() string {
		level := attr(t, ctx, `[data-testid=verdict]`, "data-level")
		label, sentence := p.read(`[data-testid=verdict] .verdict-label`), p.read(`[data-testid=verdict-sentence]`)
		require.Equal(t, "red", level, "nothing restorable yet: the only backup failed")
		require.NotEmpty(t, sentence)
		return label + ": " + firstSentence(sentence)
	})

	task("Back up now", func() string {
		p.click(`[data-testid=backup-now]`)
		p.waitFor(`(document.querySelector('[data-testid=last-database] [data-testid=status]') || {}).innerText === 'succeeded'`, 120*time.Second)
		href := attr(t, ctx, `[data-testid=last-database] a`, "href")
		require.NotEqual(t, fmt.Sprintf("/backups/%d", failedID), href)
		newest = strings.TrimPrefix(href, "/backups/")
		return "backup #" + newest + " succeeded"
	})

	task("Prove it restores (drill)", func() string {
		p.click(`[data-testid=last-database] a`)
		p.click(`[data-testid=verify-drill]`)
		p.waitFor(`!!document.querySelector('[data-testid=drill-tables]')`, 120*time.Second)
		require.Zero(t, count(t, ctx, `[data-testid=drill-tables] .st-failed`), "every table matches the manifest")
		return fmt.Sprintf("drill succeeded, %d tables match", count(t, ctx, `[data-testid=drill-tables] tbody tr`))
	})

	task("Restore into a new database", func() string {
		target := fmt.Sprintf("pis_restored_%d", time.Now().UnixNano())
		t.Cleanup(func() { testdb.DropDatabase(t, target) })
		p.click(`[data-testid=last-database] a`)
		p.click(`[data-testid=restore-open]`)
		p.fill(`[data-testid=restore-form] input[name=target_db]`, target)
		p.fill(`[data-testid=restore-form] input[name=confirm]`, target)
		p.click(`[data-testid=restore-form] button[type=submit]`)
		p.waitFor(`!!document.querySelector('[data-testid=restore] .st-succeeded')`, 120*time.Second)
		require.Equal(t, testdb.TableDigests(t, dbconn.MustParse(env["SOURCE_DATABASE_URL"])),
			testdb.TableDigests(t, dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase(target)), "the clinic's content, table by table")
		return "restore succeeded; every table's content equals the clinic database's"
	})

	task("Change the nightly time (02:00 → 01:30)", func() string {
		nightly := catalogValue[int64](t, env, `SELECT id FROM schedules WHERE name = 'Nightly database'`)
		row := fmt.Sprintf(`[data-testid=schedule-row][data-id="%d"]`, nightly)
		p.nav("/schedules")
		require.Equal(t, "Nightly database", p.read(row+` a`))
		p.click(row + ` a`)
		p.fill(`[data-testid=schedule-form] input[name=time_of_day]`, "01:30")
		p.waitFor(`(document.querySelector('[data-testid=preview-run]') || {innerText: ''}).innerText.includes('01:30')`, 15*time.Second)
		p.click(`[data-testid=schedule-save]`)
		p.waitFor(`!!document.querySelector('[data-testid=saved]')`, 15*time.Second)
		require.Contains(t, p.read(`[data-testid=saved]`), "Nightly database")
		require.Equal(t, "01:30", catalogValue[string](t, env, `SELECT time_of_day FROM schedules WHERE name = 'Nightly database'`))
		next := p.read(row + ` [data-testid=next-run]`)
		require.Contains(t, next, "01:30")
		return "saved; next run " + next
	})

	task("Why did it fail? (a failed backup's reason)", func() string {
		p.nav("/backups")
		row := fmt.Sprintf(`[data-testid=backup-row-%d]`, failedID)
		reason := p.read(row + ` [data-testid=failure-reason]`)
		require.Contains(t, reason, "public.authentication_user", "the list says why, naming the table")
		p.click(row + ` a.row-link`)
		p.waitFor(`!!document.querySelector('[data-testid=failure-explained]')`, 15*time.Second)
		explained := p.read(`[data-testid=failure-explained]`)
		require.Contains(t, explained, "What to check")
		require.Contains(t, strings.ToLower(explained), "grant", "it says which permission to give")
		return reason
	})

	task("Send a test e-mail", func() string {
		p.nav("/alerts")
		p.fill(`[data-testid=test-email] input[name=email]`, "it-desk@clinic.local")
		p.click(`[data-testid=test-email] button[type=submit]`)
		p.waitFor(`location.pathname === '/alerts' && !!document.querySelector('[data-testid=email-log]') &&
			document.querySelector('[data-testid=email-log]').innerText.includes('it-desk@clinic.local')`, 30*time.Second)
		return "listed in the e-mail log"
	})

	task("Media migration dry run", func() string {
		p.nav("/media")
		p.click(`[data-testid=media-start-button]`) // "Dry run" is ticked by default
		p.waitFor(`(document.querySelector('[data-testid=media-run] [data-testid=status]') || {}).innerText === 'succeeded'`, 120*time.Second)
		require.Contains(t, p.read(`[data-testid=media-run] h2`), "dry run")
		counts := p.read(`[data-testid=media-counts]`)
		files := catalogValue[int32](t, env, `SELECT total_files FROM media_migrations ORDER BY id DESC LIMIT 1`)
		require.Positive(t, files)
		require.Contains(t, counts, fmt.Sprintf("Dry run: %d files", files))
		require.Contains(t, counts, "nothing was sent")
		return counts
	})

	task("Download a backup", func() string {
		p.click(`[data-testid=last-database] a`)
		p.click(`[data-testid=download]`)
		var file string
		for ev, err := range progress {
			require.NoError(t, err)
			if ev.State == cdpbrowser.DownloadProgressStateCanceled {
				t.Fatalf("download canceled")
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				file = filepath.Join(downloads, ev.GUID)
				break
			}
		}
		got, err := os.ReadFile(file)
		require.NoError(t, err)
		key := catalogValue[string](t, env, `SELECT storage_key FROM backups WHERE id = $1::bigint`, newest)
		want, err := os.ReadFile(filepath.Join(strings.TrimPrefix(env["BACKUP_STORAGE"], "file://"), key))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "the downloaded file is the stored artifact")
		return fmt.Sprintf("%d bytes, identical to the stored artifact", len(got))
	})

	task("Add an operator", func() string {
		p.nav("/admin/users")
		p.fill(`[data-testid=add-user] input[name=email]`, "new.nurse@clinic.local")
		p.fill(`[data-testid=add-user] input[name=name]`, "New Nurse")
		p.choose(`[data-testid=add-user] select[name=role]`, "operator")
		p.click(`[data-testid=add-user] button[type=submit]`)
		p.waitFor(`!!document.querySelector('[data-testid=secret-value]')`, 15*time.Second)
		require.Contains(t, p.read(`[data-testid=secret]`), "new.nurse@clinic.local")
		require.Equal(t, "operator", catalogValue[string](t, env, `SELECT role FROM users WHERE email = 'new.nurse@clinic.local'`))
		return "operator added; password shown once"
	})

	// Behind the page: the test e-mail was delivered (to the development outbox).
	require.Eventually(t, func() bool {
		return catalogValue[string](t, env, `SELECT status FROM emails WHERE 'it-desk@clinic.local' = ANY(to_addrs) ORDER BY id DESC LIMIT 1`) == "sent"
	}, 30*time.Second, 200*time.Millisecond)

	var b strings.Builder
	var total time.Duration
	var clicks, fields, loads int
	fmt.Fprintf(&b, "\n| # | task | wall time | clicks | fields typed | page loads | outcome |\n|---|---|---|---|---|---|---|\n")
	for i, k := range tasks {
		total, clicks, fields, loads = total+k.took, clicks+k.clicks, fields+k.fields, loads+k.loads
		fmt.Fprintf(&b, "| %d | %s | %.1f s | %d | %d | %d | %s |\n", i+1, k.name, k.took.Seconds(), k.clicks, k.fields, k.loads, k.outcome)
	}
	fmt.Fprintf(&b, "\nAll ten: %.1f s, %d clicks, %d typed fields, %d page loads.\n", total.Seconds(), clicks, fields, loads)
	t.Log(b.String())
}

// firstSentence is s up to its first ". " (what fits in a table cell).
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
