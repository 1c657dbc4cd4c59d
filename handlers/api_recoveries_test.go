package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
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
