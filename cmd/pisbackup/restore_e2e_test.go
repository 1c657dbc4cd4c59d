package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// The runbook's UI path in a real browser: an admin runs a drill from the backup's page and sees every table
// match, a restore whose confirmation does not repeat the target is stopped, and a confirmed one restores
// the clinic database into a new database with identical content, progress and result shown on the page.
func TestE2EDrillAndRestoreFromBackupPage(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	b := cliBackup(t, env)
	srv := startServer(t, env)
	pw := addUser(t, env, "admin@clinic.local", "admin")
	ctx := browser(t)
	login(t, ctx, srv.url, "admin@clinic.local", pw)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/backups/"+strconv.FormatInt(b.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=verify-drill]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=verify-drill]`)),
	))
	waitFor(t, ctx, `!!document.querySelector('[data-testid=drill-tables]')`, 90*time.Second)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=drill-tables] tbody tr').length`))
	require.NoError(t, err)
	require.Positive(t, n)
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=drill-tables] .st-failed').length`))
	require.NoError(t, err)
	require.Zero(t, bad, "every table matches the manifest")

	target := fmt.Sprintf("pisbackup_e2e_restore_%d", time.Now().UnixNano())
	admin := dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase("postgres")
	t.Cleanup(func() { testdb.DropDatabase(t, target) })
	// Restore is destructive: it opens a dialog that asks for the target name to be typed again.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid=restore-open]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-dialog] input[name=confirm]`)),
	))
	modal, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid=restore-dialog]').matches(':modal')`))
	require.NoError(t, err)
	require.True(t, modal, "the restore confirmation is a modal dialog")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
		chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), "something else"),
		chromedp.Click(chromedp.CSS(`[data-testid=restore-form] button[type=submit]`)),
	))
	waitFor(t, ctx, `document.querySelector('[data-testid=restore-error]').innerText.includes('exactly')`, 10*time.Second)
	exists, err := backup.DatabaseExists(context.Background(), admin, target)
	require.NoError(t, err)
	require.False(t, exists, "an unconfirmed restore changes nothing")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
		chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), target),
		chromedp.Click(chromedp.CSS(`[data-testid=restore-form] button[type=submit]`)),
	))
	waitFor(t, ctx, `!!document.querySelector('[data-testid=restore] .st-succeeded')`, 90*time.Second)
	restored := dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase(target)
	require.Equal(t, testdb.TableDigests(t, dbconn.MustParse(env["SOURCE_DATABASE_URL"])), testdb.TableDigests(t, restored))
}
