package handlers

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

// legacyZip is a full_backup_*.zip as the old system wrote it (name → content), deflated.
func legacyZip(t *testing.T, files ...[2]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f[0], Method: zip.Deflate})
		require.NoError(t, err)
		_, err = w.Write([]byte(f[1]))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.String()
}

func legacyJSONText(n int) string {
	var sb strings.Builder
	sb.WriteString("[\n")
	for i := 1; i <= n; i++ {
		if i > 1 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, `  {"model": "patients.patient", "pk": %d, "fields": {"first_name": "P%d"}}`, i, i)
	}
	sb.WriteString("\n]")
	return sb.String()
}

// Issue 22 through the API and the upload form: the old system's database_backup_*.json and full_backup_*.zip
// are accepted (the zip as a full backup with a database part and a media part), a zip bomb, an entry leaving
// its folder and a .json that is no dumpdata export are refused with one line (422), and the page says what it
// takes.
func TestUploadLegacyJSONAndZipThroughAPIAndForm(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	post := func(name, content string) (*http.Response, string) {
		body, ct := multipartBody(t, [3]string{"file", name, content})
		return e.req(t, nil, "POST", "/api/v1/backups/upload", e.tokens[auth.Admin], body.String(), "Content-Type", ct)
	}
	db := legacyJSONText(50)

	resp, body := post("database_backup_20250101_020000.json", db)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	var b queries.Backup
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Equal(t, "django-dumpdata-json+zstd+age", b.Format)
	require.Contains(t, e.page(t, auth.Viewer, "/backups/"+idText(b.ID)).Find("[data-testid=manifest-tables]").Text(), "patients.patient")

	resp, body = post("full_backup_20250101_020000.zip", legacyZip(t, [2]string{"database_backup_20250101_020000.json", db},
		[2]string{"media/patient_documents/2025/03/lab.pdf", "%PDF-1.4 result"}, [2]string{"staticfiles/app.css", "body{}"}))
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Equal(t, "full", b.Kind)
	parts := e.page(t, auth.Viewer, "/backups/"+idText(b.ID)).Find("[data-testid=backup-parts] li")
	require.Equal(t, 2, parts.Length())
	require.Contains(t, parts.Text(), "database")
	require.Contains(t, parts.Text(), "media")

	for _, c := range []struct{ name, content, want string }{
		{"full_backup_1.zip", legacyZip(t, [2]string{"database_backup_1.json", db}, [2]string{"media/scan.pdf", string(make([]byte, 130<<20))}),
			"a decompression bomb, not a backup"},
		{"full_backup_1.zip", legacyZip(t, [2]string{"database_backup_1.json", db}, [2]string{"media/../../etc/cron.d/x", "* * * * * root sh"}),
			`zip entry \"media/../../etc/cron.d/x\" points outside its folder`},
		{"database_backup_1.json", `{"format_version": 1, "kind": "database"}`, "not a Django dumpdata export"},
	} {
		resp, body = post(c.name, c.content)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
		require.Contains(t, body, c.want)
	}
	require.Len(t, e.audit(t, "backup.upload_refused"), 3)

	// The form: the page says what it takes, a zip goes to its new full backup, a bomb re-renders with the reason.
	page := e.page(t, auth.Admin, "/backups/upload")
	require.Contains(t, page.Text(), "full_backup_*.zip")
	require.Contains(t, page.Text(), "database_backup_*.json")
	accept, _ := page.Find("input[name=file]").Attr("accept")
	require.Contains(t, accept, ".zip")
	require.Contains(t, accept, ".json")
	form, ct := multipartBody(t, [3]string{"file", "full_backup_20250102_020000.zip", legacyZip(t, [2]string{"database_backup_2.json", db})})
	resp, _ = e.req(t, nil, "POST", "/backups/upload", e.tokens[auth.Admin], form.String(), "Content-Type", ct)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Regexp(t, `^/backups/\d+$`, resp.Header.Get("Location"))
	form, ct = multipartBody(t, [3]string{"file", "full_backup_3.zip", legacyZip(t, [2]string{"database_backup_3.json", db},
		[2]string{"/etc/passwd", "root:x:0:0"})})
	resp, body = e.req(t, nil, "POST", "/backups/upload", e.tokens[auth.Admin], form.String(), "Content-Type", ct)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Contains(t, doc.Find("[data-testid=upload-error]").Text(), `zip entry "/etc/passwd" points outside its folder`)
}
