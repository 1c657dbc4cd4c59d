package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for _, r := range rows[1:] {
		require.True(t, strings.HasPrefix(r[1], "usc_pis_media/"), r)
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
