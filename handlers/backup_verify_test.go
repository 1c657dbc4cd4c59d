package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// verifyEnv is newAuthEnv with a real backup and a worker on the verify queue (verifications and restores).
func verifyEnv(t *testing.T) (*authEnv, queries.Backup) {
	t.Helper()
	e := newAuthEnv(t, true)
	ctx := context.Background()
	var err error
	// Drills name scratch databases by verification id, and every test catalog shares one server.
	_, err = e.d.Pool.Exec(ctx, "SELECT setval('verifications_id_seq', (random() * 1e12)::bigint + 1000)")
	require.NoError(t, err)
	c, err := jobs.NewClient(e.d, jobs.Private, jobs.QueueVerify)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	})
	resp, body := e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"database"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var b queries.Backup
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Eventually(t, func() bool {
		b, err = e.d.Q.BackupGet(ctx, b.ID)
		require.NoError(t, err)
		return b.Status != "queued" && b.Status != "running"
	}, 90*time.Second, 100*time.Millisecond)
	require.Equal(t, "succeeded", b.Status, b.Error)
	return e, b
}

func (e *authEnv) page(t *testing.T, who auth.Role, path string) *goquery.Document {
	t.Helper()
	resp, body := e.req(t, nil, "GET", path, e.tokens[who], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	return doc
}

// The detail page and the API: verify by role, the drill's per-table comparison, and restores that refuse the
// catalog and the source, need the typed name, run, and are audited.
func TestVerifyAndRestoreThroughAPIAndPage(t *testing.T) {
	t.Parallel()
	e, b := verifyEnv(t)
	id := idText(b.ID)

	resp, _ := e.req(t, nil, "POST", "/api/v1/backups/"+id+"/verify", e.tokens[auth.Viewer], `{"level":"drill"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body := e.req(t, nil, "POST", "/api/v1/backups/"+id+"/verify", e.tokens[auth.Operator], `{"level":"deep"}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, `"field":"level"`)
	resp, body = e.req(t, nil, "POST", "/api/v1/backups/"+id+"/verify", e.tokens[auth.Operator], `{"level":"drill"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var v queries.Verification
	require.NoError(t, jsonUnmarshal(body, &v))
	require.Eventually(t, func() bool {
		_, body := e.req(t, nil, "GET", "/api/v1/verifications/"+idText(v.ID), e.tokens[auth.Viewer], "")
		require.NoError(t, jsonUnmarshal(body, &v))
		return v.Status != "queued" && v.Status != "running"
	}, 120*time.Second, 200*time.Millisecond)
	require.Equal(t, "succeeded", v.Status, v.Error)

	m, err := backup.ParseManifest(b.Manifest)
	require.NoError(t, err)
	doc := e.page(t, auth.Admin, "/backups/"+id)
	require.Equal(t, len(m.Tables), doc.Find("[data-testid=drill-tables] tbody tr").Length())
	require.Equal(t, 0, doc.Find("[data-testid=drill-tables] .st-failed").Length())
	require.Equal(t, len(m.Tables), doc.Find("[data-testid=drill-content]").Length())
	doc.Find("[data-testid=drill-content]").Each(func(_ int, s *goquery.Selection) {
		require.Equal(t, "same as the backup's", strings.TrimSpace(s.Text()), "every table's rows were compared with the archive")
	})
	require.Contains(t, doc.Find("[data-testid=drill-objects] summary").Text(), "all the same")
	require.Equal(t, 0, doc.Find("[data-testid=drill-object-difference]").Length())
	require.Equal(t, 1, doc.Find("[data-testid=verify-drill]").Length())
	require.Equal(t, 1, doc.Find("[data-testid=restore-form]").Length())
	require.GreaterOrEqual(t, doc.Find("[data-testid=verification]").Length(), 2, "the automatic checksum and the drill")
	doc = e.page(t, auth.Operator, "/backups/"+id)
	require.Equal(t, 1, doc.Find("[data-testid=verify-checksum]").Length())
	require.Equal(t, 0, doc.Find("[data-testid=restore-form]").Length(), "restore is admin only")
	doc = e.page(t, auth.Viewer, "/backups/"+id)
	require.Equal(t, 0, doc.Find("[data-testid=verify-buttons]").Length())

	catalog := e.d.Pool.Config().ConnConfig.Database
	source := e.d.Cfg.Source.Database()
	resp, _ = e.req(t, nil, "POST", "/api/v1/backups/"+id+"/restore", e.tokens[auth.Operator], `{"target_db":"x1","confirm":"x1"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	for _, name := range []string{catalog, source} {
		resp, body = e.req(t, nil, "POST", "/api/v1/backups/"+id+"/restore", e.tokens[auth.Admin],
			fmt.Sprintf(`{"target_db":%q,"confirm":%q}`, name, name))
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
		require.Contains(t, body, `"field":"target_db"`)
	}
	require.Len(t, e.audit(t, "backup.restore_refused"), 2)
	for _, a := range e.audit(t, "backup.restore_refused") {
		require.Equal(t, "failed", a.Outcome, "a refused restore is on record as failed, not done")
	}
	target := fmt.Sprintf("pisbackup_api_restore_%d", time.Now().UnixNano())
	t.Cleanup(func() { testdb.DropDatabase(t, target) })
	resp, body = e.req(t, nil, "POST", "/api/v1/backups/"+id+"/restore", e.tokens[auth.Admin], fmt.Sprintf(`{"target_db":%q,"confirm":"nope"}`, target))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, `"field":"confirm"`)

	// The page's form, as HTMX posts it: a refusal comes back as the whole live region with the form's message
	// (the dialog left open), and a start as the whole live region with the restore listed and polling fast.
	resp, body = e.req(t, nil, "POST", "/backups/"+id+"/restore", e.tokens[auth.Admin], "target_db="+target+"&confirm=nope", "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	doc = parseHTML(t, body)
	require.Equal(t, 1, doc.Find("#backup-live").Length(), body)
	require.Contains(t, doc.Find("[data-testid=restore-error]").Text(), "exactly")
	require.Equal(t, target, doc.Find("[data-testid=restore-form] input[name=target_db]").AttrOr("value", ""))
	_, open := doc.Find("[data-testid=restore-dialog]").Attr("open")
	require.True(t, open, "the refused form stays in front of the admin")
	resp, body = e.req(t, nil, "POST", "/backups/"+id+"/restore", e.tokens[auth.Admin], "target_db="+target+"&confirm="+target, "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	doc = parseHTML(t, body)
	require.Equal(t, views.LiveTrigger(true), doc.Find("#backup-live").AttrOr("hx-trigger", ""), "polls fast from the start")
	require.Equal(t, 1, doc.Find(`[data-testid="restore"] [data-testid="work"]`).Length(), "the restore, in flight")
	var rs queries.Restore
	require.Eventually(t, func() bool {
		rows, err := e.d.Q.RestoreListByBackup(context.Background(), b.ID)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		_, body := e.req(t, nil, "GET", "/api/v1/restores/"+idText(rows[0].ID), e.tokens[auth.Admin], "")
		require.NoError(t, jsonUnmarshal(body, &rs))
		return rs.Status != "queued" && rs.Status != "running"
	}, 120*time.Second, 200*time.Millisecond)
	require.Equal(t, "succeeded", rs.Status, rs.Error)
	ev := e.audit(t, "backup.restore")
	require.NotEmpty(t, ev)
	require.Equal(t, "backup:"+id, ev[0].Target)
}

// multipartBody builds a multipart form of file parts, each {field, filename, content}, in order.
func multipartBody(t *testing.T, parts ...[3]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		w, err := mw.CreateFormFile(p[0], p[1])
		require.NoError(t, err)
		_, err = w.Write([]byte(p[2]))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

func legacyGzip(t *testing.T, n int) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("[")
	for i := 1; i <= n; i++ {
		if i > 1 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"model":"patients.patient","pk":%d,"fields":{"first_name":"P%d"}}`, i, i)
	}
	sb.WriteString("]")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(sb.String()))
	require.NoError(t, zw.Close())
	return buf.String()
}

// Uploads (admin only): a truncated file is refused with a clear message and stores nothing; a legacy export
// is listed with its models; the size limit is enforced from Content-Length before reading.
func TestUploadThroughAPI(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	post := func(role auth.Role, name, content string) (*http.Response, string) {
		body, ct := multipartBody(t, [3]string{"file", name, content})
		return e.req(t, nil, "POST", "/api/v1/backups/upload", e.tokens[role], body.String(), "Content-Type", ct)
	}
	legacy := legacyGzip(t, 120)
	resp, _ := post(auth.Operator, "database_backup_1.json.gz", legacy)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body := post(auth.Admin, "database_backup_1.json.gz", legacy[:len(legacy)-20])
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	require.Contains(t, body, "truncated")
	resp, body = post(auth.Admin, "notes.txt", "hello")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	_, body = e.req(t, nil, "GET", "/api/v1/backups", e.tokens[auth.Viewer], "")
	require.Contains(t, body, `"backups":[]`)
	objs, err := e.d.Store.List(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, objs)

	resp, body = post(auth.Admin, "database_backup_20250101_020000.json.gz", legacy)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	var b queries.Backup
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Equal(t, "upload", b.Trigger)
	_, body = e.req(t, nil, "GET", "/api/v1/backups", e.tokens[auth.Viewer], "")
	require.Contains(t, body, b.Sha256)
	doc := e.page(t, auth.Viewer, "/backups/"+idText(b.ID))
	require.Contains(t, doc.Find("[data-testid=manifest-tables]").Text(), "patients.patient")
	require.Contains(t, doc.Find("[data-testid=manifest-tables]").Text(), "120")
	require.Len(t, e.audit(t, "backup.upload_refused"), 2)
	for _, a := range e.audit(t, "backup.upload_refused") {
		require.Equal(t, "failed", a.Outcome, "a refused upload is on record as failed, not done")
	}
	require.Len(t, e.audit(t, "backup.upload"), 1+2) // prefix match: the refusals too

	// The page's form: a refusal re-renders the form with the message; success goes to the new backup.
	require.Equal(t, 1, e.page(t, auth.Admin, "/backups/upload").Find("[data-testid=upload-form]").Length())
	form, ct := multipartBody(t, [3]string{"file", "database_backup_3.json.gz", legacy[:100]})
	resp, body = e.req(t, nil, "POST", "/backups/upload", e.tokens[auth.Admin], form.String(), "Content-Type", ct)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Contains(t, doc.Find("[data-testid=upload-error]").Text(), "truncated")
	form, ct = multipartBody(t, [3]string{"file", "database_backup_3.json.gz", legacy})
	resp, _ = e.req(t, nil, "POST", "/backups/upload", e.tokens[auth.Admin], form.String(), "Content-Type", ct)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Regexp(t, `^/backups/\d+$`, resp.Header.Get("Location"))

	e.d.Cfg.UploadMaxBytes = 100
	resp, body = post(auth.Admin, "database_backup_2.json.gz", legacy)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, body)
	e.d.Cfg.UploadMaxBytes = 2 << 30
}

// A restore's create_roles refusals (an uploaded backup's roles are the file's own claim; no
// ROLE_ADMIN_DATABASE_URL while roles are missing) answer the API with their one line as a 4xx, audited as a
// refused restore, never as an internal error that hides the statements to run.
func TestRestoreCreateRolesRefusalsThroughAPI(t *testing.T) {
	t.Parallel()
	e, b := verifyEnv(t)
	id := idText(b.ID)
	_, err := e.d.Pool.Exec(context.Background(), `UPDATE backups SET trigger = 'upload' WHERE id = $1`, b.ID)
	require.NoError(t, err)
	target := fmt.Sprintf("pisbackup_api_roles_%d", time.Now().UnixNano())
	resp, body := e.req(t, nil, "POST", "/api/v1/backups/"+id+"/restore", e.tokens[auth.Admin],
		fmt.Sprintf(`{"target_db":%q,"confirm":%q,"create_roles":true}`, target, target))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	require.Contains(t, body, "was uploaded")
	require.Contains(t, body, `"field":"create_roles"`)
	refused := e.audit(t, "backup.restore_refused")
	require.Len(t, refused, 1)
	require.Equal(t, "failed", refused[0].Outcome)
}
