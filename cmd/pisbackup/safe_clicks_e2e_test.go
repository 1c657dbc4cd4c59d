package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/demo"
)

// Every one-click control that cannot be undone asks first, proven by clicking it: Cancel on the question
// changes nothing in the catalog, OK makes the change. Resetting your own password, disabling a user, revoking
// an API token, pausing a schedule (the dashboard then warns, and stops warning on Resume) and starting a
// migration that deletes local media files.
func TestE2ESafeClicksAskFirst(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	// Media that can be migrated and deleted locally: Cloudinary (a local server speaking its API) and a clinic
	// database whose stored file names all resolve (the demo references two lost files on purpose).
	_, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	env["CLOUDINARY_URL"] = cloudinarytest.New(t).CloudinaryURL()
	fixLostMedia(t, env["SOURCE_DATABASE_URL"])
	for _, args := range [][]string{{"setup-schedules"}, {"create-user", "--email", "nurse@clinic.local", "--role", "operator"}} {
		_, stderr, code := runCLI(t, env, args...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
	}
	_, stderr, code := runCLI(t, env, "create-token", "--email", "nurse@clinic.local", "--name", "uptime monitor", "--role", "viewer")
	require.Equal(t, 0, code, stderr)
	srv := startServer(t, env)
	pw := addUser(t, env, "head@clinic.local", "admin")
	ctx := browser(t)
	dialogs := answerDialogs(t, ctx)
	login(t, ctx, srv.url, "head@clinic.local", pw)
	id := func(sql string, args ...any) string {
		return strconv.FormatInt(catalogValue[int64](t, env, sql, args...), 10)
	}

	t.Run("disable a user", func(t *testing.T) {
		nurse := id(`SELECT id FROM users WHERE email = 'nurse@clinic.local'`)
		button := `[data-testid=user-` + nurse + `] form[action$="/disable"] button`
		disabled := func() bool { return catalogValue[bool](t, env, `SELECT disabled FROM users WHERE id = $1`, nurse) }
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(button))))
		require.Contains(t, dialogs.click(t, ctx, button, false), "Disable nurse@clinic.local?")
		require.False(t, disabled(), "Cancel changes nothing")
		dialogs.click(t, ctx, button, true)
		waitFor(t, ctx, `!!document.querySelector('[data-testid=user-`+nurse+`] [data-testid=status]')`, 10*time.Second)
		require.True(t, disabled(), "OK disables")
		require.Equal(t, "disabled", text(t, ctx, `[data-testid=user-`+nurse+`] [data-testid=status]`))
	})

	t.Run("revoke a token", func(t *testing.T) {
		tok := id(`SELECT id FROM api_tokens WHERE name = 'uptime monitor'`)
		button := `[data-testid=token-` + tok + `] button`
		revoked := func() bool {
			return catalogValue[bool](t, env, `SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = $1`, tok)
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admin/tokens"), chromedp.WaitVisible(chromedp.CSS(button))))
		require.Contains(t, dialogs.click(t, ctx, button, false), "Revoke the token “uptime monitor”?")
		require.False(t, revoked(), "Cancel changes nothing")
		dialogs.click(t, ctx, button, true)
		waitFor(t, ctx, `(document.querySelector('[data-testid=token-`+tok+`] [data-testid=status]') || {}).innerText === 'revoked'`, 10*time.Second)
		require.True(t, revoked(), "OK revokes")
	})

	t.Run("pause a schedule; the dashboard warns", func(t *testing.T) {
		nightly := id(`SELECT id FROM schedules WHERE name = 'Nightly database'`)
		button := `[data-testid=schedule-row][data-id="` + nightly + `"] [data-testid=schedule-toggle]`
		active := func() bool { return catalogValue[bool](t, env, `SELECT active FROM schedules WHERE id = $1`, nightly) }
		dashboardWarns := func() int {
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=verdict]`))))
			return count(t, ctx, `[data-testid=paused-schedule]`)
		}
		require.Zero(t, dashboardWarns(), "nothing paused yet")
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/schedules"), chromedp.WaitVisible(chromedp.CSS(button))))
		require.Contains(t, dialogs.click(t, ctx, button, false), "Pause this schedule?")
		require.True(t, active(), "Cancel changes nothing")
		require.Zero(t, dashboardWarns())
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/schedules"), chromedp.WaitVisible(chromedp.CSS(button))))
		dialogs.click(t, ctx, button, true)
		waitFor(t, ctx, `(document.querySelector('[data-testid=schedule-row][data-id="`+nightly+`"] [data-testid=active]') || {}).innerText === 'paused'`, 10*time.Second)
		require.False(t, active(), "OK pauses")
		require.Equal(t, 1, dashboardWarns(), "the dashboard warns while a schedule is paused")
		require.Contains(t, text(t, ctx, `[data-testid=paused-schedule]`), "Nightly database")
		// Resuming is safe and needs no question; the warning goes with the pause.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/schedules"), chromedp.Click(chromedp.CSS(button))))
		waitFor(t, ctx, `(document.querySelector('[data-testid=schedule-row][data-id="`+nightly+`"] [data-testid=active]') || {}).innerText === 'active'`, 10*time.Second)
		require.True(t, active())
		require.Zero(t, dashboardWarns())
	})

	t.Run("delete local media files once verified", func(t *testing.T) {
		banner := filepath.Join(env["MEDIA_ROOT"], "campaigns/banners/dengue_awareness.png")
		require.FileExists(t, banner)
		runs := func() int64 { return catalogValue[int64](t, env, `SELECT count(*) FROM media_migrations`) }
		fill := func() {
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(srv.url+"/media"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid=media-start-button]`)),
				chromedp.Click(chromedp.CSS(`[data-testid=media-start] input[name=dry_run]`)),
				chromedp.Click(chromedp.CSS(`[data-testid=media-start] input[name=delete_local]`)),
			))
			// htmx sends the form's request within the click, right after its confirm event: count them.
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sent = 0; document.addEventListener('htmx:beforeRequest',
				e => { if (e.detail.elt.matches('[data-testid=media-start]')) window.__sent++ }); true`))
			require.NoError(t, err)
		}
		fill()
		require.Contains(t, dialogs.click(t, ctx, `[data-testid=media-start-button]`, false), "Delete the local media files")
		sent, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sent`))
		require.NoError(t, err)
		require.Zero(t, sent, "Cancel sends nothing")
		require.Zero(t, runs(), "Cancel starts nothing")
		require.FileExists(t, banner)
		fill()
		dialogs.click(t, ctx, `[data-testid=media-start-button]`, true)
		waitFor(t, ctx, `(document.querySelector('[data-testid=media-run] [data-testid=status]') || {}).innerText === 'succeeded'`, 120*time.Second)
		require.True(t, catalogValue[bool](t, env, `SELECT delete_local FROM media_migrations ORDER BY id DESC LIMIT 1`))
		require.Positive(t, catalogValue[int32](t, env, `SELECT deleted FROM media_migrations ORDER BY id DESC LIMIT 1`))
		require.NoFileExists(t, banner, "OK migrates and deletes the local copies")
	})

	t.Run("reset your own password", func(t *testing.T) {
		me := id(`SELECT id FROM users WHERE email = 'head@clinic.local'`)
		button := `[data-testid=user-` + me + `] form[action$="/password"] button`
		hash := func() string {
			return catalogValue[string](t, env, `SELECT password_hash FROM users WHERE id = $1`, me)
		}
		before := hash()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(button))))
		require.Contains(t, dialogs.click(t, ctx, button, false), "your own password")
		require.Equal(t, before, hash(), "Cancel changes nothing")
		require.Zero(t, count(t, ctx, `[data-testid=secret]`))
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profile"), chromedp.WaitVisible(chromedp.CSS(`header.top nav`))))
		require.Equal(t, "/profile", location(t, ctx), "still signed in")

		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(button))))
		dialogs.click(t, ctx, button, true)
		waitFor(t, ctx, `!!document.querySelector('[data-testid=secret-value]')`, 10*time.Second)
		require.NotEqual(t, before, hash(), "OK resets")
		fresh := text(t, ctx, `[data-testid=secret-value]`)
		// The session opened with the old password has ended; the new one signs in.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profile"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`))))
		login(t, ctx, srv.url, "head@clinic.local", fresh)
		pw = fresh
	})

	t.Run("change your own password", func(t *testing.T) {
		const next = "Lantern-Quarry-Mosaic-19"
		hash := func() string {
			return catalogValue[string](t, env, `SELECT password_hash FROM users WHERE email = 'head@clinic.local'`)
		}
		before := hash()
		fill := func() {
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(srv.url+"/profile"),
				chromedp.WaitVisible(chromedp.CSS(`form[action="/profile/password"] input[name=current]`)),
				chromedp.SendKeys(chromedp.CSS(`form[action="/profile/password"] input[name=current]`), pw),
				chromedp.SendKeys(chromedp.CSS(`form[action="/profile/password"] input[name=new]`), next),
			))
		}
		fill()
		require.Contains(t, dialogs.click(t, ctx, `form[action="/profile/password"] button[type=submit]`, false), "Change your password?")
		require.Equal(t, "/profile", location(t, ctx))
		require.Equal(t, before, hash(), "Cancel changes nothing")
		fill()
		dialogs.click(t, ctx, `form[action="/profile/password"] button[type=submit]`, true)
		require.Eventually(t, func() bool { return hash() != before }, 10*time.Second, 50*time.Millisecond, "OK changes it")
		_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
		require.NoError(t, err)
		login(t, ctx, srv.url, "head@clinic.local", next)
	})
}

// fixLostMedia points the demo's two rows that reference lost files at files that exist (or at nothing), so
// that every stored file name resolves and deleting local copies is allowed.
func fixLostMedia(t *testing.T, sourceURL string) {
	t.Helper()
	ctx := context.Background()
	src, err := pgx.Connect(ctx, sourceURL)
	require.NoError(t, err)
	defer src.Close(ctx)
	_, err = src.Exec(ctx, "UPDATE file_uploads_patientdocument SET file = 'patient_documents/2025/03/cbc_0003.pdf' WHERE file = $1", demo.MissingFiles[0])
	require.NoError(t, err)
	_, err = src.Exec(ctx, "UPDATE health_info_healthcampaign SET pubmat_image = NULL WHERE pubmat_image = $1", demo.MissingFiles[1])
	require.NoError(t, err)
}

// location is the path of the page the tab shows.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	p, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	require.NoError(t, err)
	return p
}
