package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/demo"
)

func TestMigrateToCloudinaryCLI(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	seeded, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	srv := cloudinarytest.New(t)
	env["CLOUDINARY_URL"] = srv.CloudinaryURL()

	out, stderr, code := runCLI(t, env, "migrate-to-cloudinary", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "patient_documents")
	require.Contains(t, out, "nothing was sent")
	require.Zero(t, srv.RequestCount(), "--dry-run makes no request")

	mapping := filepath.Join(t.TempDir(), "out", "mapping")
	// The demo references two files lost from disk: the app could never show them, so nothing is deleted.
	out, _, code = runCLI(t, env, "migrate-to-cloudinary", "--delete-local", "--mapping-out", mapping)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "--delete-local refused: 2 stored FileField value(s) would not resolve")
	require.Zero(t, srv.UploadCount())
	out, _, code = runCLI(t, env, "media-resolvability")
	require.Equal(t, 1, code, out)
	for _, m := range demo.MissingFiles {
		require.Contains(t, out, m)
	}
	require.Contains(t, out, "neither in MEDIA_ROOT nor in Cloudinary")
	require.Regexp(t, `reports_generatedreport.file_path +raw +2 values`, out)
	ctx := context.Background()
	src, err := pgx.Connect(ctx, env["SOURCE_DATABASE_URL"])
	require.NoError(t, err)
	defer src.Close(ctx)
	_, err = src.Exec(ctx, "UPDATE file_uploads_patientdocument SET file = 'patient_documents/2025/03/cbc_0003.pdf' WHERE file = $1", demo.MissingFiles[0])
	require.NoError(t, err)
	_, err = src.Exec(ctx, "UPDATE health_info_healthcampaign SET pubmat_image = NULL WHERE pubmat_image = $1", demo.MissingFiles[1])
	require.NoError(t, err)

	out, stderr, code = runCLI(t, env, "migrate-to-cloudinary", "--concurrency", "8", "--delete-local", "--mapping-out", mapping, "--json")
	require.Equal(t, 0, code, stderr+out)
	var res struct {
		Status   string `json:"status"`
		Verified int    `json:"verified"`
		Deleted  int    `json:"deleted"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	migrated := len(seeded) - 3 // .DS_Store twice and .gitkeep stay
	require.Equal(t, "succeeded", res.Status)
	require.Equal(t, migrated, res.Verified)
	require.Equal(t, migrated, res.Deleted)
	require.FileExists(t, filepath.Join(env["MEDIA_ROOT"], ".DS_Store"))
	require.NoFileExists(t, filepath.Join(env["MEDIA_ROOT"], "campaigns/banners/dengue_awareness.png"))

	f, err := os.Open(mapping + ".csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, migrated+1)
	require.Equal(t, "path", rows[0][0])
	var js []map[string]any
	raw, err := os.ReadFile(mapping + ".json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &js))
	require.Len(t, js, migrated)
	out, _, code = runCLI(t, env, "media-resolvability", "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"unresolved": 0`)
	for _, r := range rows[1:] {
		require.Contains(t, r[1], strings.TrimSuffix(r[0], filepath.Ext(r[0])), "the public id is the path as stored, extension dropped only for images")
		require.True(t, strings.HasPrefix(r[2], srv.URL), r)
	}
}

func TestTestCloudinarySaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	srv := cloudinarytest.New(t)
	env := map[string]string{"CLOUDINARY_URL": srv.CloudinaryURL()}
	out, stderr, code := runCLI(t, env, "test-cloudinary")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Cloudinary OK")

	env["CLOUDINARY_URL"] = strings.Replace(srv.CloudinaryURL(), srv.Secret, "nope", 1)
	_, stderr, code = runCLI(t, env, "test-cloudinary")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "rejected the credentials")

	_, stderr, code = runCLI(t, map[string]string{}, "test-cloudinary")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not configured")
}
