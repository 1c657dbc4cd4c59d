package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/demo"
)

// screenshotPages are the main pages, by file name; "{id}" is the drilled backup.
var screenshotPages = []struct{ name, path string }{
	{"dashboard", "/"},
	{"backups", "/backups"},
	{"backup-detail", "/backups/{id}"},
	{"schedules", "/schedules"},
	{"health", "/health"},
	{"alerts", "/alerts"},
	{"media", "/media"},
}

// screenshotWidths are the two widths the design must work at: a desktop and the narrowest phone we support.
var screenshotWidths = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 900}, {"phone", 360, 780}}

// TestScreenshots renders the main pages to PNG for the README (`make screenshots`). It runs only when
// SCREENSHOTS_DIR is set, and fails if a page scrolls sideways at phone width.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		t.Skip("set SCREENSHOTS_DIR (make screenshots) to render the pages to PNG")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	env := cliEnv(t)
	_, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	// A realistic catalog: a drilled database backup, a full backup, the default schedules and a test e-mail.
	out, stderr, code := runCLI(t, env, "create-backup", "--type", "database", "--json")
	require.Equal(t, 0, code, stderr)
	var drilled backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &drilled), out)
	for _, args := range [][]string{
		{"verify-backup", "--latest", "--level", "drill"},
		{"create-backup", "--type", "full"},
		{"setup-schedules"},
		{"test-email", "--email", "it@clinic.local"},
	} {
		_, stderr, code := runCLI(t, env, args...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
	}
	srv := startServer(t, env)
	pw := addUser(t, env, "admin@clinic.local", "admin")
	ctx := browser(t)
	login(t, ctx, srv.url, "admin@clinic.local", pw)

	for _, w := range screenshotWidths {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w.width, w.height)))
		for _, p := range screenshotPages {
			path := p.path
			if path == "/backups/{id}" {
				path = "/backups/" + strconv.FormatInt(drilled.ID, 10)
			}
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(srv.url+path),
				chromedp.WaitVisible(chromedp.CSS(`header.top nav`)),
				chromedp.Sleep(300*time.Millisecond), // let HTMX settle its first swap
			))
			wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowJS))
			require.NoError(t, err)
			if len(wide) > 0 {
				t.Errorf("%s scrolls sideways at %d px; too wide: %v", path, w.width, wide)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err, path)
			file := filepath.Join(dir, p.name+"-"+w.name+".png")
			require.NoError(t, os.WriteFile(file, png, 0o644))
			t.Logf("%s → %s (%d KB)", path, file, len(png)/1024)
		}
	}
}

// overflowJS names the outermost elements that stick out past the right edge of the viewport, so a failure
// says what to fix. Content inside a scrolling container (a wide table in its wrapper) does not count.
const overflowJS = `(() => {
	const w = window.innerWidth, de = document.documentElement;
	if (de.scrollWidth <= w) return [];
	const clipped = el => { for (let a = el.parentElement; a && a !== de; a = a.parentElement) {
		if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
	const out = [];
	for (const el of document.body.querySelectorAll('*')) {
		if (el.getBoundingClientRect().right <= w + 1 || clipped(el)) continue;
		const p = el.parentElement;
		if (p && p !== document.body && p.getBoundingClientRect().right > w + 1) continue;
		out.push(el.tagName.toLowerCase() + (el.dataset.testid ? '[' + el.dataset.testid + ']' : '') +
			(el.className ? '.' + String(el.className).trim().split(' ').join('.') : '') + ' ' +
			Math.round(el.getBoundingClientRect().right) + 'px');
	}
	return out.length ? out.slice(0, 8) : ['document ' + de.scrollWidth + 'px'];
})()`
