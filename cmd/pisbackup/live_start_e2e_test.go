package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/views"
)

// waitForAt is waitFor that also says when (on the test's clock) the condition was first seen to hold. It
// polls the DOM every 25 ms, so the answer is within 25 ms plus one round trip of the truth.
func waitForAt(t *testing.T, ctx context.Context, cond string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return time.Now()
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + "\n" + document.body.innerText`))
			t.Fatalf("condition not met within %s: %s (last error: %v)\npage now:\n%s", timeout, cond, err, page)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// triggerOf is the hx-trigger of the live region with that id, "" when there is none.
func triggerOf(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return attr(t, ctx, "#"+id, "hx-trigger")
}

// Starting work from a page puts that page into its in-progress refresh at once: the answer to the click
// carries the whole live region, already polling at the fast interval, so the work's progress shows within
// that interval instead of at the idle page's next tick (up to 10 s later). Proven for a drill and a restore
// started on a backup's page and for a media dry run started on the Media page; each click comes right after
// the page loaded, when the idle tick is furthest away. The page never reloads, and once the work ends the
// page slows down again.
func TestE2EStartingWorkGoesLiveAtOnce(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	_, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	b := cliBackup(t, env)
	// Drills and restores read their archive slowly, so they are still running when the page is looked at.
	env["PG_BIN_DIR"] = testdb.SlowPGRestoreDir(t, "0.1")
	srv := startServer(t, env)
	pw := addUser(t, env, "head@clinic.local", "admin")
	ctx := browser(t)
	login(t, ctx, srv.url, "head@clinic.local", pw)
	fast, idle := views.LiveTrigger(true), views.LiveTrigger(false)
	// Halfway between the two intervals: updates sooner than this came from the fast poll, not the idle one.
	bound := (views.LiveFast + views.LiveIdle) / 2
	page := srv.url + "/backups/" + strconv.FormatInt(b.ID, 10)

	// open loads the page afresh (its idle timer starts now) and marks the load, so a reload would show.
	open := func(t *testing.T, url, region, ready string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready))))
		require.Equal(t, idle, triggerOf(t, ctx, region), "an idle page polls slowly")
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad = true`))
		require.NoError(t, err)
	}
	// started checks the moment the answer to the click is on the page (the work's row, in flight): the region
	// polls fast already; then it measures how long until the row moves on (a refresh brings its status,
	// bytes or elapsed time as the worker advanced them).
	started := func(t *testing.T, region, row string) {
		t.Helper()
		inFlight := `document.querySelector('` + row + `') && document.querySelector('` + row + `').querySelector('[data-testid=work]')`
		shown := waitForAt(t, ctx, `!!(`+inFlight+`)`, 15*time.Second)
		trigger, regions := triggerOf(t, ctx, region), count(t, ctx, "#"+region)
		first, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+row+`').innerText`))
		require.NoError(t, err)
		moved := waitForAt(t, ctx, `document.querySelector('`+row+`').innerText !== `+strconv.Quote(first), 30*time.Second)
		lag := moved.Sub(shown)
		t.Logf("%s: the work's row moved on %s after the start was answered (fast poll %s, idle poll %s)", region, lag.Round(time.Millisecond), views.LiveFast, views.LiveIdle)
		require.Equal(t, fast, trigger, "the page polls fast as soon as the work is started")
		require.Equal(t, 1, regions, "one live region, not one swapped inside another")
		require.Less(t, lag, bound, "progress must arrive with the fast poll, not the idle one")
	}
	ended := func(t *testing.T, region, done string) {
		t.Helper()
		waitFor(t, ctx, done, 120*time.Second)
		waitFor(t, ctx, fmt.Sprintf(`document.getElementById('%s').getAttribute('hx-trigger') === '%s'`, region, idle), 15*time.Second)
		same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad === true`))
		require.NoError(t, err)
		require.True(t, same, "the page updates without a reload")
	}

	t.Run("drill", func(t *testing.T) {
		open(t, page, "backup-live", `[data-testid=verify-drill]`)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=verify-drill]`))))
		started(t, "backup-live", `[data-testid=verification]`)
		ended(t, "backup-live", `!!document.querySelector('[data-testid=drill-tables]')`)
	})

	t.Run("restore", func(t *testing.T) {
		target := fmt.Sprintf("pisbackup_e2e_live_%d", time.Now().UnixNano())
		t.Cleanup(func() { testdb.DropDatabase(t, target) })
		open(t, page, "backup-live", `[data-testid=restore-open]`)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=restore-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-dialog] input[name=confirm]`)),
			chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
			chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), target),
			chromedp.Click(chromedp.CSS(`[data-testid=restore-form] button[type=submit]`)),
		))
		started(t, "backup-live", `[data-testid=restore]`)
		ended(t, "backup-live", `!!document.querySelector('[data-testid=restore] .st-succeeded')`)
	})

	t.Run("media dry run", func(t *testing.T) {
		open(t, srv.url+"/media", "media-live", `[data-testid=media-start-button]`)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=media-start-button]`))))
		// A dry run of the demo's files takes well under a second: what matters here is the region it lands in.
		waitFor(t, ctx, `!!document.querySelector('[data-testid=media-run] [data-testid=status]')`, 15*time.Second)
		require.Equal(t, 1, count(t, ctx, "#media-live"), "one live region, not one swapped inside another")
		require.Equal(t, 1, count(t, ctx, "[data-testid=media-run]"))
		ended(t, "media-live", `(document.querySelector('[data-testid=media-run] [data-testid=status]') || {}).innerText === 'succeeded'`)
		require.NotContains(t, text(t, ctx, `#media-live`), "No migration has run yet")
	})
}
