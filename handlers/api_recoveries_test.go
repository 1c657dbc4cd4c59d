package handlers

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// Recover records through the API: operators compare and script, only administrators apply (typing the
// table), nothing is applied without SOURCE_WRITE_DATABASE_URL, and the recorded recovery holds no values.
func TestAPIRecoveriesByRole(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, true)
	e.workQueue(t, jobs.QueueVerify)
	ctx := context.Background()
	resp, body := e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"database"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var b queries.Backup
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Eventually(t, func() bool {
		_, body := e.req(t, nil, "GET", "/api/v1/backups/"+idText(b.ID), e.tokens[auth.Viewer], "")
		require.NoError(t, jsonUnmarshal(body, &b))
		return b.Status != "queued" && b.Status != "running"
	}, 90*time.Second, 200*time.Millisecond)
	require.Equal(t, "succeeded", b.Status, b.Error)

	live, err := e.d.Cfg.Source.Connect(ctx)
	require.NoError(t, err)
	defer live.Close(ctx)
	var mid int64
	require.NoError(t, live.QueryRow(ctx, `SELECT min(id) FROM patients_medicalrecord`).Scan(&mid))
	_, err = live.Exec(ctx, `UPDATE patients_medicalrecord SET treatment = 'overwritten' WHERE id = $1`, mid)
	require.NoError(t, err)
	path := "/api/v1/backups/" + idText(b.ID) + "/recoveries"
	one := `"table":"patients_medicalrecord","keys":["id=` + idText(mid) + `"]`

	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Viewer], `{`+one+`}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Operator], `{"table":"patients_medicalrecord"}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Operator], `{`+one+`,"mode":"sql","overwrite":true}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `"status":"changed"`)
	require.Contains(t, body, "UPDATE")
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Operator], `{`+one+`,"mode":"apply","overwrite":true,"confirm":"patients_medicalrecord"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Admin], `{`+one+`,"mode":"apply","overwrite":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Admin], `{`+one+`,"mode":"apply","overwrite":true,"confirm":"patients_medicalrecord"}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, body)
	require.Contains(t, body, "SOURCE_WRITE_DATABASE_URL")

	e.d.Cfg.SourceWrite = e.d.Cfg.Source
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Admin], `{`+one+`,"mode":"apply","overwrite":true,"confirm":"patients_medicalrecord"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var treatment string
	require.NoError(t, live.QueryRow(ctx, `SELECT treatment FROM patients_medicalrecord WHERE id = $1`, mid).Scan(&treatment))
	require.NotEqual(t, "overwritten", treatment)

	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/api/v1/recoveries/"), loc)
	resp, body = e.req(t, nil, "GET", loc, e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `"status":"succeeded"`)
	require.Contains(t, body, "treatment", "the changed column is named")
	require.NotContains(t, body, treatment, "no column values in the catalog record")
	require.NotEmpty(t, e.audit(t, "recovery.apply"))

	// The page flow: pick, diff, confirm, done.
	_, body = e.req(t, nil, "GET", "/backups/"+idText(b.ID), e.tokens[auth.Operator], "")
	require.Contains(t, body, `data-testid="recover-link"`)
	page := "/backups/" + idText(b.ID) + "/recover"
	resp, body = e.req(t, nil, "GET", page, e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body = e.req(t, nil, "GET", page, e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `<option value="public.patients_medicalrecord"`)
	_, err = live.Exec(ctx, `UPDATE patients_medicalrecord SET treatment = 'overwritten again' WHERE id = $1`, mid)
	require.NoError(t, err)
	form := url.Values{"table": {"public.patients_medicalrecord"}, "keys": {"id=" + idText(mid)}, "mode": {"dry_run"}}
	resp, body = e.req(t, nil, "POST", page, e.tokens[auth.Operator], form.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `data-testid="recover-diff"`)
	require.Contains(t, body, "changed public.patients_medicalrecord")
	require.NotContains(t, body, `data-testid="recover-apply"`, "operators cannot apply")
	form.Set("mode", "apply")
	form.Set("overwrite", "1")
	resp, _ = e.req(t, nil, "POST", page, e.tokens[auth.Operator], form.Encode())
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	form.Set("confirm", "wrong")
	_, body = e.req(t, nil, "POST", page, e.tokens[auth.Admin], form.Encode())
	require.Contains(t, body, "nothing was written")
	require.NoError(t, live.QueryRow(ctx, `SELECT treatment FROM patients_medicalrecord WHERE id = $1`, mid).Scan(&treatment))
	require.Equal(t, "overwritten again", treatment)
	form.Set("confirm", "public.patients_medicalrecord")
	_, body = e.req(t, nil, "POST", page, e.tokens[auth.Admin], form.Encode())
	require.Contains(t, body, `data-testid="recover-done"`, body)
	require.NoError(t, live.QueryRow(ctx, `SELECT treatment FROM patients_medicalrecord WHERE id = $1`, mid).Scan(&treatment))
	require.NotEqual(t, "overwritten again", treatment)
}

// fullBackup takes a full backup of the env's clinic database and seeded MEDIA_ROOT through the API.
func (e *authEnv) fullBackup(t *testing.T) int64 {
	t.Helper()
	resp, body := e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"full"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var b queries.Backup
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Eventually(t, func() bool {
		row, err := e.d.Q.BackupGet(context.Background(), b.ID)
		require.NoError(t, err)
		b = row
		return row.Status != "queued" && row.Status != "running"
	}, 90*time.Second, 100*time.Millisecond)
	require.Contains(t, []string{"succeeded", "warning"}, b.Status, b.Error)
	return b.ID
}

// Undo from the API and the page (administrators, the recovery's number typed), with the media files a
// full backup's recovery restored: the same engine as `pisbackup recover --undo`, audited.
func TestRecoveryUndoAndMediaThroughAPIAndPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newAuthEnv(t, true)
	e.d.Cfg.MediaRoot = t.TempDir()
	_, err := demo.SeedMedia(e.d.Cfg.MediaRoot, 1)
	require.NoError(t, err)
	fid := e.fullBackup(t)
	e.d.Cfg.SourceWrite = e.d.Cfg.Source

	live, err := e.d.Cfg.Source.Connect(ctx)
	require.NoError(t, err)
	defer live.Close(ctx)
	var pid int64
	var file string
	require.NoError(t, live.QueryRow(ctx, `SELECT d.patient_id, d.file FROM file_uploads_patientdocument d
		WHERE d.file <> $1 ORDER BY d.id LIMIT 1`, demo.MissingFiles[0]).Scan(&pid, &file))
	count := func() int {
		var n int
		require.NoError(t, live.QueryRow(ctx, `SELECT (SELECT count(*) FROM patients_patient WHERE id = $1)
			+ (SELECT count(*) FROM file_uploads_patientdocument WHERE patient_id = $1) + (SELECT count(*) FROM patients_medicalrecord WHERE patient_id = $1)
			+ (SELECT count(*) FROM patients_dentalrecord WHERE patient_id = $1) + (SELECT count(*) FROM feedback_feedback WHERE patient_id = $1)
			+ (SELECT count(*) FROM medical_certificates_medicalcertificate WHERE patient_id = $1)`, pid).Scan(&n))
		return n
	}
	before := count()
	for _, tb := range []string{"patients_medicalrecord", "file_uploads_patientdocument", "patients_dentalrecord",
		"medical_certificates_medicalcertificate", "feedback_feedback"} {
		_, err = live.Exec(ctx, "DELETE FROM "+tb+" WHERE patient_id = $1", pid)
		require.NoError(t, err)
	}
	_, err = live.Exec(ctx, `DELETE FROM patients_patient WHERE id = $1`, pid)
	require.NoError(t, err)
	mediaFile := filepath.Join(e.d.Cfg.MediaRoot, filepath.FromSlash(file))
	require.NoError(t, os.Remove(mediaFile))
	fileThere := func() bool {
		_, err := os.Stat(mediaFile)
		return err == nil
	}

	path := "/api/v1/backups/" + idText(fid) + "/recoveries"
	sel := `"table":"patients_patient","keys":["id=` + idText(pid) + `"],"with_related":true,"with_media":true`
	resp, body := e.req(t, nil, "POST", path, e.tokens[auth.Operator], `{`+sel+`}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var dry jobs.RecoverResult
	require.NoError(t, jsonUnmarshal(body, &dry))
	require.NotNil(t, dry.Media, body)
	require.Contains(t, dry.Media.Files, recordrecovery.MediaFile{Path: file, Table: "public.file_uploads_patientdocument",
		Key: dry.Media.Files[0].Key, Column: "file", Status: recordrecovery.MediaRestore, Size: dry.Media.Files[0].Size, SHA256: dry.Media.Files[0].SHA256})
	require.False(t, fileThere(), "a dry run restores nothing")

	apply := func() int64 {
		t.Helper()
		resp, body := e.req(t, nil, "POST", path, e.tokens[auth.Admin], `{`+sel+`,"mode":"apply","confirm":"patients_patient"}`)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var res jobs.RecoverResult
		require.NoError(t, jsonUnmarshal(body, &res))
		require.Equal(t, before, count())
		require.True(t, fileThere())
		return res.RecoveryID
	}

	// API.
	rid := apply()
	undo := "/api/v1/recoveries/" + idText(rid) + "/undo"
	resp, body = e.req(t, nil, "POST", undo, e.tokens[auth.Operator], `{"confirm":"`+idText(rid)+`"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", undo, e.tokens[auth.Admin], `{"confirm":"yes"}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	require.Equal(t, before, count(), "nothing undone without the typed confirmation")
	resp, body = e.req(t, nil, "POST", undo, e.tokens[auth.Admin], `{"confirm":"`+idText(rid)+`"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var res jobs.UndoResult
	require.NoError(t, jsonUnmarshal(body, &res))
	require.Equal(t, jobs.UndoResult{RecoveryID: rid, Rows: before, MediaRemoved: 1}, res)
	require.Zero(t, count())
	require.False(t, fileThere())
	resp, body = e.req(t, nil, "POST", undo, e.tokens[auth.Admin], `{"confirm":"`+idText(rid)+`"}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, body)
	require.Contains(t, body, "already undone")
	resp, _ = e.req(t, nil, "POST", "/api/v1/recoveries/999999/undo", e.tokens[auth.Admin], `{"confirm":"999999"}`)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Page.
	rid = apply()
	page := "/recoveries/" + idText(rid)
	doc := e.page(t, auth.Operator, page)
	require.Zero(t, doc.Find(`[data-testid="undo-form"]`).Length(), "operators do not undo")
	require.Contains(t, doc.Find(`[data-testid="recovery-media"]`).Text(), "1 restored")
	doc = e.page(t, auth.Admin, page)
	require.Equal(t, 1, doc.Find(`[data-testid="undo-form"]`).Length())
	resp, _ = e.req(t, nil, "POST", page+"/undo", e.tokens[auth.Operator], url.Values{"confirm": {idText(rid)}}.Encode())
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body = e.req(t, nil, "POST", page+"/undo", e.tokens[auth.Admin], url.Values{"confirm": {"undo"}}.Encode())
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "nothing was undone")
	require.Equal(t, before, count())
	resp, body = e.req(t, nil, "POST", page+"/undo", e.tokens[auth.Admin], url.Values{"confirm": {idText(rid)}}.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `data-testid="undo-done"`)
	require.Zero(t, count())
	require.False(t, fileThere())
	doc = e.page(t, auth.Admin, page)
	require.Zero(t, doc.Find(`[data-testid="undo-form"]`).Length(), "undone: nothing left to undo")

	var undone []queries.AuditEvent
	for _, a := range e.audit(t, "recovery.undo") {
		if a.Action == "recovery.undo" {
			undone = append(undone, a)
		}
	}
	require.Len(t, undone, 2, "both undos are audited")
	// The request rows of the applies and undos that changed the clinic database say so ("done"), never
	// "no_change"; refusals say "failed"; only the page's mistyped confirmation changed nothing.
	outcomes := map[string][]string{}
	for _, route := range []string{"POST /api/v1/backups/{id}/recoveries", "POST /api/v1/recoveries/{id}/undo", "POST /recoveries/{id}/undo"} {
		for _, a := range e.audit(t, route) {
			outcomes[route] = append(outcomes[route], a.Outcome)
		}
	}
	require.ElementsMatch(t, []string{"no_change", "done", "done"}, outcomes["POST /api/v1/backups/{id}/recoveries"], "a dry run, two applies")
	require.ElementsMatch(t, []string{"failed", "done", "failed", "failed"}, outcomes["POST /api/v1/recoveries/{id}/undo"])
	require.ElementsMatch(t, []string{"no_change", "done"}, outcomes["POST /recoveries/{id}/undo"])
	for _, a := range undone {
		require.Equal(t, e.users[auth.Admin].Email, a.Actor)
	}
}
