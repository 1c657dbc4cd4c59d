package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The "Recover records" page flow in a real browser, as an administrator: from the backup's page open
// Recover records, choose the table from the manifest's list, enter the deleted patient's key, see the diff,
// fail to apply with a wrong confirmation (nothing written), apply with the table name typed and see the
// live rows equal the backup's again, then undo from the page (a wrong number undoes nothing) and see them
// gone as before.
func TestE2ERecoverRecordsAndUndoFromThePage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := cliEnv(t)
	env["SOURCE_WRITE_DATABASE_URL"] = env["SOURCE_DATABASE_URL"]
	b := cliBackup(t, env)
	live, err := pgx.Connect(ctx, env["SOURCE_DATABASE_URL"])
	require.NoError(t, err)
	defer live.Close(ctx)
	var id int64
	require.NoError(t, live.QueryRow(ctx, `SELECT p.id FROM patients_patient p WHERE EXISTS (SELECT 1 FROM patients_medicalrecord m WHERE m.patient_id = p.id)
		AND EXISTS (SELECT 1 FROM file_uploads_patientdocument d WHERE d.patient_id = p.id) ORDER BY id LIMIT 1`).Scan(&id))
	backupRows := patientRows(t, live, id)
	deletePatientLive(t, live, id)
	require.Empty(t, patientRows(t, live, id))

	srv := startServer(t, env)
	pw := addUser(t, env, "admin@clinic.local", "admin")
	bctx := browser(t)
	login(t, bctx, srv.url, "admin@clinic.local", pw)

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(srv.url+"/backups/"+strconv.FormatInt(b.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=recover-link]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=recover-link]`)),
	))
	waitFor(t, bctx, `!!document.querySelector('[data-testid=recover-form] select[name=table]')`, 20*time.Second)
	options, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=recover-form] select[name=table] option')].map(o => o.value)`))
	require.NoError(t, err)
	require.Contains(t, options, "public.patients_patient", "the tables come from the manifest")
	require.Greater(t, len(options), 10)

	key := strconv.FormatInt(id, 10)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`[data-testid=recover-form] select[name=table]`), "public.patients_patient"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=recover-form] textarea[name=keys]`), "id="+key),
		chromedp.Click(chromedp.CSS(`[data-testid=recover-form] input[name=with_related]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=recover-compare]`)),
	))
	waitFor(t, bctx, `!!document.querySelector('[data-testid=recover-diff]')`, 90*time.Second)
	diff := text(t, bctx, `[data-testid=recover-diff]`)
	require.Contains(t, diff, "missing public.patients_patient ["+key+"]")
	require.Contains(t, diff, "missing public.patients_medicalrecord")
	require.Empty(t, patientRows(t, live, id), "comparing writes nothing")

	// A confirmation that is not the table name writes nothing.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=recover-apply] input[name=confirm]`), "patients"),
		chromedp.Click(chromedp.CSS(`[data-testid=recover-apply] button[value=apply]`)),
	))
	waitFor(t, bctx, `(document.querySelector('[data-testid=recover-error]') || {innerText: ''}).innerText.includes('nothing was written')`, 90*time.Second)
	require.Empty(t, patientRows(t, live, id))

	require.NoError(t, chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=recover-apply] input[name=confirm]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=recover-apply] input[name=confirm]`), "public.patients_patient"),
		chromedp.Click(chromedp.CSS(`[data-testid=recover-apply] button[value=apply]`)),
	))
	waitFor(t, bctx, `!!document.querySelector('[data-testid=recover-done]')`, 90*time.Second)
	require.Contains(t, text(t, bctx, `[data-testid=recover-done]`), "wrote "+strconv.Itoa(len(backupRows))+" row(s)")
	require.Equal(t, backupRows, patientRows(t, live, id), "the live rows equal the backup's")

	// Undo from the page: the recovery's number typed.
	require.Equal(t, 1, count(t, bctx, `[data-testid=undo-form]`), "the result offers the undo")
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=undo-confirm]`), "0"),
		chromedp.Click(chromedp.CSS(`[data-testid=undo-submit]`)),
	))
	waitFor(t, bctx, `(document.querySelector('[data-testid=undo-error]') || {innerText: ''}).innerText.includes('nothing was undone')`, 30*time.Second)
	require.Equal(t, backupRows, patientRows(t, live, id))
	rid, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname.split('/')[2]`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=undo-confirm]`), rid),
		chromedp.Click(chromedp.CSS(`[data-testid=undo-submit]`)),
	))
	waitFor(t, bctx, `!!document.querySelector('[data-testid=undo-done]')`, 60*time.Second)
	require.Contains(t, text(t, bctx, `[data-testid=undo-done]`), strconv.Itoa(len(backupRows))+" row(s) reversed")
	require.Empty(t, patientRows(t, live, id), "undo took the recovered rows back")
	require.Contains(t, text(t, bctx, `[data-testid=recovery-status]`), "undone")
}
