package jobs

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/demo"
)

// issueTable are the stored values of issue 24's table, with the URL path the clinic app requests for each
// (django-cloudinary-storage 0.3.0 with the app's settings: no prefix, image storage, raw for reports).
var issueTable = []struct{ table, column, value, path string }{
	{"file_uploads_patientdocument", "file", "patient_documents/2025/03/lab result.pdf", "image/upload/v1/patient_documents/2025/03/lab%20result.pdf"},
	{"health_info_healthcampaign", "banner_image", "campaigns/banners/flu.png", "image/upload/v1/campaigns/banners/flu.png"},
	{"reports_generatedreport", "file_path", "reports/monthly_2025_03.csv", "raw/upload/v1/reports/monthly_2025_03.csv"},
}

// TestEveryStoredFileFieldValueResolvesAfterMigration builds, for every value of every FileField column of
// a database shaped like the clinic's, the URL the app requests (cloudinary-go, same rules as pycloudinary)
// and fetches it from the local Cloudinary: each must answer with the file's bytes, also after the local
// copies were deleted. Values that cannot resolve are in the report, and --delete-local refuses until none is.
func TestEveryStoredFileFieldValueResolvesAfterMigration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := cloudinarytest.New(t)
	b.withMedia(t, srv)
	ctx := context.Background()
	src, err := b.d.Cfg.Source.Connect(ctx)
	require.NoError(t, err)
	defer src.Close(ctx)
	// The issue's three rows, with their files in MEDIA_ROOT.
	_, err = src.Exec(ctx, `UPDATE file_uploads_patientdocument SET file = 'patient_documents/2025/03/lab result.pdf' WHERE id = 1;
		UPDATE health_info_healthcampaign SET banner_image = 'campaigns/banners/flu.png' WHERE id = 1;
		UPDATE reports_generatedreport SET file_path = 'reports/monthly_2025_03.csv' WHERE id = 1;
		INSERT INTO health_info_campaignresource (campaign_id, title, file) VALUES (2, 'Guide', 'resources/guide.docx')`)
	require.NoError(t, err)
	for _, rel := range []string{"patient_documents/2025/03/lab result.pdf", "campaigns/banners/flu.png", "reports/monthly_2025_03.csv", "resources/guide.docx"} {
		p := filepath.Join(b.d.Cfg.MediaRoot, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("bytes of "+rel), 0o644))
	}
	client := b.startWorker(t)

	// Before: a .docx in an image field and the two files lost from disk cannot resolve; delete-local refuses.
	refused, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DeleteLocal: true})
	require.NoError(t, err)
	refused = waitMigration(t, b.d.Q, refused.ID)
	require.Equal(t, "failed", refused.Status)
	require.Contains(t, refused.Error, "--delete-local refused: 3 stored FileField value(s) would not resolve")
	require.Zero(t, srv.UploadCount(), "nothing was uploaded")
	rep, _, err := MediaResolvability(ctx, b.d.Cfg, b.d.Q)
	require.NoError(t, err)
	unresolved := map[string]string{}
	for _, c := range rep.Columns {
		for _, u := range c.Unresolved {
			unresolved[c.Column+" "+u.Value] = u.Reason
		}
	}
	require.Len(t, unresolved, 3, unresolved)
	require.Contains(t, unresolved["health_info_campaignresource.file resources/guide.docx"], "cannot be an image asset")
	for _, m := range demo.MissingFiles {
		require.Condition(t, func() bool {
			for k, v := range unresolved {
				if strings.HasSuffix(k, " "+m) && strings.Contains(v, "neither in MEDIA_ROOT nor in Cloudinary") {
					return true
				}
			}
			return false
		}, m)
	}

	// The operator does what the report says: the lost files' rows are cleared, the .docx row goes.
	clearMissingRefs(t, b)
	_, err = src.Exec(ctx, `DELETE FROM health_info_campaignresource`)
	require.NoError(t, err)
	run, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DeleteLocal: true, Concurrency: 4})
	require.NoError(t, err)
	run = waitMigration(t, b.d.Q, run.ID)
	require.Equal(t, "succeeded", run.Status, run.Error)
	require.Positive(t, run.Deleted)

	fc, err := backup.ReadFileColumns(ctx, b.d.Cfg.Source, b.d.Cfg.FileColumns)
	require.NoError(t, err)
	require.Empty(t, fc.Missing, "the demo has every FileField column of the clinic app")
	n, checked := MediaNaming(b.d.Cfg), 0
	for _, col := range b.d.Cfg.FileColumns {
		rt := n.ResourceType(col)
		for _, v := range fc.Values[col] {
			u, err := cloudinary.AppURL(srv.Cloud, rt, n.Name(v))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(u, "https://res.cloudinary.com/"+srv.Cloud+"/"), u)
			local := srv.URL + strings.TrimPrefix(u, "https://res.cloudinary.com")
			resp, err := http.Get(local)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s %q: the app requests %s", col, v, u)
			a := srv.Asset(rt, n.AssetFor(v, rt).PublicID)
			require.NotNil(t, a)
			require.Equal(t, a.Data, body)
			require.Equal(t, []string{"usc-pis-media"}, a.Tags, "uploads carry the app's media tag")
			require.NoFileExists(t, filepath.Join(b.d.Cfg.MediaRoot, filepath.FromSlash(v)), "deleted locally after verification")
			checked++
		}
	}
	require.Greater(t, checked, 10)
	for _, row := range issueTable {
		u, err := cloudinary.AppURL(srv.Cloud, n.ResourceType(row.table+"."+row.column), n.Name(row.value))
		require.NoError(t, err)
		require.Equal(t, "https://res.cloudinary.com/"+srv.Cloud+"/"+row.path, u)
		t.Logf("%-45s -> %s (200)", row.value, u)
	}
	rep, _, err = MediaResolvability(ctx, b.d.Cfg, b.d.Q)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.Summary())

	// A full backup now finds every referenced file among the Cloudinary originals it copies: none is
	// "missing" although MEDIA_ROOT no longer holds them.
	full, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "full", Trigger: "manual"})
	require.NoError(t, err)
	row := b.waitFinal(t, full.ID)
	m, err := backup.ParseManifest(row.Manifest)
	require.NoError(t, err)
	require.Empty(t, m.Missing)
	require.Equal(t, "succeeded", row.Status, "%s %v", row.Error, m.Warnings)
}

// clearMissingRefs points the demo rows whose files are missing on purpose (demo.MissingFiles) at existing
// files, as an operator following the resolvability report would, so --delete-local is allowed.
func clearMissingRefs(t *testing.T, b *testBundle) {
	t.Helper()
	ctx := context.Background()
	src, err := b.d.Cfg.Source.Connect(ctx)
	require.NoError(t, err)
	defer src.Close(ctx)
	for _, q := range []string{
		`UPDATE file_uploads_patientdocument SET file = 'patient_documents/2025/03/cbc_0003.pdf' WHERE file = '` + demo.MissingFiles[0] + `'`,
		`UPDATE health_info_healthcampaign SET pubmat_image = NULL WHERE pubmat_image = '` + demo.MissingFiles[1] + `'`} {
		_, err = src.Exec(ctx, q)
		require.NoError(t, err)
	}
}

// A configured column the clinic database lacks is named in the backup's warnings; the others are still checked.
func TestFullBackupNamesAMissingReferenceColumn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.withMedia(t, nil)
	b.d.Cfg.FileColumns = append([]string{"patients_medicaldocument.file"}, b.d.Cfg.FileColumns...)
	client := b.startWorker(t)
	full, _, err := EnqueueBackup(context.Background(), b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "full", Trigger: "manual"})
	require.NoError(t, err)
	row := b.waitFinal(t, full.ID)
	require.Equal(t, "warning", row.Status, row.Error)
	m, err := backup.ParseManifest(row.Manifest)
	require.NoError(t, err)
	require.Contains(t, m.Warnings, "media references not checked for patients_medicaldocument.file: no such column in the clinic database (MEDIA_REFERENCE_COLUMNS)")
	require.ElementsMatch(t, demo.MissingFiles, m.Missing, "the real columns were still checked")
}
