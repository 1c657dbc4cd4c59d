package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/jobs"
)

func TestMediaPageAndAPI(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	e.d.Cfg.MediaRoot = t.TempDir()
	e.d.Cfg.Source = dbconn.MustParse(testdb.Source(t))
	_, err := demo.SeedMedia(e.d.Cfg.MediaRoot, 1)
	require.NoError(t, err)
	op, view := e.tokens[auth.Operator], e.tokens[auth.Viewer]

	// Without Cloudinary a real run is refused clearly; a dry run is fine.
	resp, body := e.req(t, nil, "POST", "/api/v1/media/migrations", op, `{}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, body)
	require.Contains(t, body, "not configured")
	resp, body = e.req(t, nil, "POST", "/api/v1/media/migrations", op, `{"dry_run":true,"delete_local":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	require.Contains(t, body, `"field":"delete_local"`)
	resp, body = e.req(t, nil, "POST", "/api/v1/media/migrations", op, `{"dry_run":true,"concurrency":"many"}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)

	resp, body = e.req(t, nil, "POST", "/api/v1/media/migrations", op, `{"dry_run":true}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var run struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &run))
	resp, body = e.req(t, nil, "POST", "/api/v1/media/migrations", op, `{"dry_run":true}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "one run at a time: "+body)
	require.Len(t, e.audit(t, "media_migration.start"), 1)

	// While queued, the page's panel polls itself.
	resp, body = e.req(t, nil, "GET", "/media", view, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, "/media/live", doc.Find(`#media-live`).AttrOr("hx-get", ""))
	require.Equal(t, "every 2s", doc.Find(`#media-live`).AttrOr("hx-trigger", ""))
	require.Zero(t, doc.Find(`[data-testid="media-start"]`).Length(), "viewers see, operators start")

	// The worker's part, run in-process: the dry run plans and finishes.
	row, err := jobs.RunMediaMigration(context.Background(), e.d, run.ID, 0, "")
	require.NoError(t, err)
	require.Equal(t, "succeeded", row.Status)
	// The page's one live region refreshes every fact together: the panel and the runs table agree, and an
	// idle page keeps refreshing slowly.
	resp, body = e.req(t, nil, "GET", "/media/live", view, "", "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, "every 10s", doc.Find(`#media-live`).AttrOr("hx-trigger", ""))
	require.Contains(t, doc.Find(`[data-testid="media-run"] [data-testid="status"]`).Text(), "succeeded")
	// A dry run's counts say what it found, not "0 of N files verified".
	counts := strings.Join(strings.Fields(doc.Find(`[data-testid="media-counts"]`).Text()), " ")
	require.Regexp(t, `^Dry run: [1-9]\d* files \(.+\) to migrate; nothing was sent or deleted\.$`, counts)
	require.NotContains(t, body, "No migration has run yet")
	require.Equal(t, 1, doc.Find(`[data-testid="media-runs"]`).Length())

	resp, body = e.req(t, nil, "GET", "/api/v1/media/migrations/"+strconv.FormatInt(run.ID, 10), view, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var got struct {
		Status     string `json:"status"`
		TotalFiles int    `json:"total_files"`
		Details    struct {
			Report struct {
				Files   int `json:"files"`
				Folders []struct {
					Folder string `json:"folder"`
				} `json:"folders"`
			} `json:"report"`
		} `json:"details"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, "succeeded", got.Status)
	require.Positive(t, got.Details.Report.Files)
	require.Equal(t, got.Details.Report.Files, got.TotalFiles)

	resp, body = e.req(t, nil, "GET", "/media", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Empty(t, doc.Find(`[data-testid="media-run"]`).AttrOr("hx-get", ""), "a finished run stops polling")
	require.Equal(t, len(got.Details.Report.Folders), doc.Find(`[data-testid="media-folders"] tbody tr`).Length())
	require.Equal(t, 1, doc.Find(`[data-testid="media-start"]`).Length())
	require.Equal(t, 1, doc.Find(`[data-testid="media-runs"] tbody tr`).Length())
	// The run's per-column resolvability report: the demo's two lost files would not resolve.
	require.Contains(t, doc.Find(`[data-testid="media-resolvability"]`).Text(), "2 stored value(s) would not resolve")
	require.Contains(t, doc.Find(`[data-testid="media-columns"]`).Text(), "reports_generatedreport.file_path")
	require.Contains(t, doc.Find(`[data-testid="media-columns"]`).Text(), demo.MissingFiles[0])

	resp, body = e.req(t, nil, "GET", "/api/v1/media/resolvability", op, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var res struct {
		Unresolved int `json:"unresolved"`
		Columns    []struct {
			Column       string `json:"column"`
			ResourceType string `json:"resource_type"`
		} `json:"columns"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, 2, res.Unresolved)
	require.Len(t, res.Columns, len(e.d.Cfg.FileColumns))
	resp, _ = e.req(t, nil, "GET", "/api/v1/media/resolvability", view, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "stored file names are for operators")

	// With Cloudinary configured, deleting local files is refused up front while anything would not resolve.
	e.d.Cfg.CloudinaryURL = cloudinarytest.New(t).CloudinaryURL()
	resp, body = e.req(t, nil, "POST", "/api/v1/media/migrations", op, `{"delete_local":true}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, body)
	require.Contains(t, body, "deleting local files is refused: 2 stored FileField value(s) would not resolve")

	resp, body = e.req(t, nil, "GET", "/api/v1/media/migrations", view, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `"dry_run":true`)
	resp, _ = e.req(t, nil, "GET", "/api/v1/media/migrations/999", view, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, body = e.req(t, nil, "GET", "/api/v1/media/mapping?format=csv", op, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(body, "path,public_id,secure_url"), body)
	resp, _ = e.req(t, nil, "GET", "/api/v1/media/mapping?format=xml", op, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
}

// A full backup's page lists the media files the clinic database references but the media set lacks.
func TestFullBackupPageListsMissingMedia(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, true)
	e.d.Cfg.MediaRoot = t.TempDir()
	_, err := demo.SeedMedia(e.d.Cfg.MediaRoot, 1)
	require.NoError(t, err)
	resp, body := e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"full"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var b struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &b))
	require.Eventually(t, func() bool {
		row, err := e.d.Q.BackupGet(context.Background(), b.ID)
		require.NoError(t, err)
		return row.Status != "queued" && row.Status != "running"
	}, 90*time.Second, 100*time.Millisecond)
	resp, body = e.req(t, nil, "GET", "/backups/"+strconv.FormatInt(b.ID, 10), e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	var listed []string
	doc.Find(`[data-testid="missing-files"] li`).Each(func(_ int, s *goquery.Selection) { listed = append(listed, s.Text()) })
	require.ElementsMatch(t, demo.MissingFiles, listed)
}
