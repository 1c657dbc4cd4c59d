package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// Restore and Delete ask in a dialog of the app's own, with the target or the backup typed again: Cancel on
// it changes nothing in the catalog or in storage, confirming restores (into a new database with the clinic's
// content) or deletes (the artifact and its manifest, the row kept as history). With JavaScript off the same
// links open server-rendered confirmation pages that do the same: Cancel and a wrong confirmation change
// nothing, the right one acts.
func TestE2ERestoreAndDeleteAskFirst(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	restoreMe, deleteWithJS, deleteWithoutJS := cliBackup(t, env), cliBackup(t, env), cliBackup(t, env)
	srv := startServer(t, env)
	pw := addUser(t, env, "head@clinic.local", "admin")
	ctx := browser(t)
	answerDialogs(t, ctx) // none may appear: these ask in pages and <dialog>s
	login(t, ctx, srv.url, "head@clinic.local", pw)
	server := dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase("postgres")
	source := testdb.TableDigests(t, dbconn.MustParse(env["SOURCE_DATABASE_URL"]))
	storageDir := strings.TrimPrefix(env["BACKUP_STORAGE"], "file://")
	restores := func() int64 { return catalogValue[int64](t, env, `SELECT count(*) FROM restores`) }
	exists := func(db string) bool {
		ok, err := backup.DatabaseExists(context.Background(), server, db)
		require.NoError(t, err)
		return ok
	}
	newTarget := func(t *testing.T) string {
		name := fmt.Sprintf("pisbackup_e2e_ask_%d", time.Now().UnixNano())
		t.Cleanup(func() { testdb.DropDatabase(t, name) })
		return name
	}
	page := func(id int64) string { return srv.url + "/backups/" + strconv.FormatInt(id, 10) }
	stored := func(b backupJSON) bool {
		pruned := catalogValue[bool](t, env, `SELECT pruned_at IS NOT NULL FROM backups WHERE id = $1`, b.ID)
		_, err := os.Stat(filepath.Join(storageDir, b.StorageKey))
		return !pruned && err == nil
	}
	dialogOpen := func(id string) bool {
		open, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('`+id+`').matches(':modal')`))
		require.NoError(t, err)
		return open
	}

	t.Run("restore dialog", func(t *testing.T) {
		target := newTarget(t)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(page(restoreMe.ID)),
			chromedp.Click(chromedp.CSS(`[data-testid=restore-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`)),
		))
		require.Equal(t, "/backups/"+strconv.FormatInt(restoreMe.ID, 10), location(t, ctx), "JavaScript opens the dialog in place")
		require.True(t, dialogOpen("restore-dialog"))
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), target),
			chromedp.Click(chromedp.CSS(`#restore-dialog [data-close-dialog]`)),
		))
		require.False(t, dialogOpen("restore-dialog"), "Cancel closes the dialog")
		require.Zero(t, restores(), "Cancel restores nothing")
		require.False(t, exists(target))

		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=restore-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`)),
			chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
			chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), target),
			chromedp.Click(chromedp.CSS(`[data-testid=restore-form] button[type=submit]`)),
		))
		waitFor(t, ctx, `!!document.querySelector('[data-testid=restore] .st-succeeded')`, 120*time.Second)
		require.EqualValues(t, 1, restores())
		require.Equal(t, source, testdb.TableDigests(t, dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase(target)))
	})

	t.Run("delete dialog", func(t *testing.T) {
		require.True(t, stored(deleteWithJS))
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(page(deleteWithJS.ID)),
			chromedp.Click(chromedp.CSS(`[data-testid=delete-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`)),
		))
		require.True(t, dialogOpen("delete-dialog"))
		want := "delete-" + strconv.FormatInt(deleteWithJS.ID, 10)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`), want),
			chromedp.Click(chromedp.CSS(`#delete-dialog [data-close-dialog]`)),
		))
		require.False(t, dialogOpen("delete-dialog"), "Cancel closes the dialog")
		require.True(t, stored(deleteWithJS), "Cancel deletes nothing")

		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=delete-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`)),
			chromedp.SetValue(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`), "delete-it"),
			chromedp.Click(chromedp.CSS(`[data-testid=delete-form] button[type=submit]`)),
		))
		waitFor(t, ctx, `document.querySelector('[data-testid=delete-error]').innerText.includes('`+want+`')`, 10*time.Second)
		require.True(t, stored(deleteWithJS), "a wrong confirmation deletes nothing")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`), want),
			chromedp.Click(chromedp.CSS(`[data-testid=delete-form] button[type=submit]`)),
		))
		waitFor(t, ctx, `!document.querySelector('[data-testid=delete-open]') && !!document.querySelector('[data-testid=verdict-badge], .head')`, 15*time.Second)
		require.False(t, stored(deleteWithJS), "confirmed, the artifact is deleted")
	})

	t.Run("without JavaScript", func(t *testing.T) {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		})
		noScript := func() {
			t.Helper()
			// No page script ran: htmx would have defined its global.
			ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof htmx !== 'undefined'`))
			require.NoError(t, err)
			require.False(t, ran, "page scripts must be off")
		}

		// Restore: the link is a page with the same form.
		target := newTarget(t)
		before := restores()
		id := strconv.FormatInt(restoreMe.ID, 10)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(page(restoreMe.ID)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-open]`)),
		))
		noScript()
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=restore-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`)),
		))
		require.Equal(t, "/backups/"+id+"/restore", location(t, ctx))
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
			chromedp.Click(chromedp.CSS(`[data-testid=restore-form] a`)), // Cancel
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-open]`)),
		))
		require.Equal(t, "/backups/"+id, location(t, ctx))
		require.Equal(t, before, restores(), "Cancel restores nothing")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=restore-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=restore-form] input[name=target_db]`), target),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), target+"x"),
			chromedp.Click(chromedp.CSS(`[data-testid=restore-form] button[type=submit]`)),
		))
		// The server answers with the page again, saying why.
		waitFor(t, ctx, `(document.querySelector('[data-testid=restore-error]') || {innerText: ''}).innerText.includes('exactly')`, 10*time.Second)
		require.Equal(t, before, restores(), "a wrong confirmation restores nothing")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`[data-testid=restore-form] input[name=confirm]`), target),
			chromedp.Click(chromedp.CSS(`[data-testid=restore-form] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=restores]`)),
		))
		require.Equal(t, "/backups/"+id, location(t, ctx))
		require.Equal(t, before+1, restores())
		require.Eventually(t, func() bool {
			return catalogValue[string](t, env, `SELECT status FROM restores ORDER BY id DESC LIMIT 1`) == "succeeded"
		}, 120*time.Second, 200*time.Millisecond)
		require.Equal(t, source, testdb.TableDigests(t, dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase(target)))

		// Delete: the link is a page with the typed confirmation.
		id = strconv.FormatInt(deleteWithoutJS.ID, 10)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(page(deleteWithoutJS.ID)),
			chromedp.Click(chromedp.CSS(`[data-testid=delete-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`)),
		))
		noScript()
		require.Equal(t, "/backups/"+id+"/delete", location(t, ctx))
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=delete-form] a`)), // Cancel
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=delete-open]`)),
		))
		require.Equal(t, "/backups/"+id, location(t, ctx))
		require.True(t, stored(deleteWithoutJS), "Cancel deletes nothing")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[data-testid=delete-open]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`), "yes"),
			chromedp.Click(chromedp.CSS(`[data-testid=delete-form] button[type=submit]`)),
		))
		waitFor(t, ctx, `(document.querySelector('[data-testid=delete-error]') || {innerText: ''}).innerText.includes('delete-`+id+`')`, 10*time.Second)
		require.True(t, stored(deleteWithoutJS), "a wrong confirmation deletes nothing")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`[data-testid=delete-form] input[name=confirm]`), "delete-"+id),
			chromedp.Click(chromedp.CSS(`[data-testid=delete-form] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.head`)),
		))
		require.Equal(t, "/backups/"+id, location(t, ctx))
		require.False(t, stored(deleteWithoutJS), "confirmed, the artifact is deleted")
		require.Zero(t, count(t, ctx, `[data-testid=delete-open]`))
	})
}
