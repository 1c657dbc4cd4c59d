package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/dbconn"
)

func TestSeedMedia(t *testing.T) {
	dir := t.TempDir()
	paths, err := SeedMedia(dir, 7)
	require.NoError(t, err)
	require.Len(t, paths, 31) // 30 demo files and the demo mark
	require.True(t, slices.IsSorted(paths))
	require.Contains(t, paths, "patient_documents/2025/03/medical clearance 0005.pdf")
	require.Contains(t, paths, ".DS_Store")
	require.Contains(t, paths, "exports/.gitkeep")

	first := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		require.NoError(t, err, p)
		require.LessOrEqual(t, len(data), 8<<10, "%s should be small", p)
		first[p] = data
		switch filepath.Ext(p) {
		case ".pdf":
			require.True(t, bytes.HasPrefix(data, []byte("%PDF-")), p)
		case ".png":
			require.True(t, bytes.HasPrefix(data, []byte("\x89PNG")), p)
		case ".jpg":
			require.True(t, bytes.HasPrefix(data, []byte("\xff\xd8")), p)
		}
	}

	// Idempotent and deterministic: a rerun rewrites the very same bytes,
	// and leaves files it does not own alone.
	foreign := filepath.Join(dir, "reports", "keep-me.txt")
	require.NoError(t, os.WriteFile(foreign, []byte("x"), 0o644))
	again, err := SeedMedia(dir, 7)
	require.NoError(t, err)
	require.Equal(t, paths, again)
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		require.NoError(t, err)
		require.Equal(t, first[p], data, p)
	}
	require.FileExists(t, foreign)

	other, err := SeedMedia(t.TempDir(), 8)
	require.NoError(t, err)
	require.Equal(t, paths, other, "the seed changes bytes, not names")
}

// emptyColumns belong to tables the demo creates (the app has them) but leaves without rows.
var emptyColumns = []string{"file_uploads_uploadedfile.file", "health_info_campaigntemplate.banner_image",
	"health_info_campaigntemplate.thumbnail_image", "health_info_healthcampaign.thumbnail_image",
	"health_info_campaignresource.file"}

// checkMediaReferences verifies, against a seeded database, that every
// DefaultFileColumns value names a file SeedMedia writes, except exactly
// MissingFiles, and that each file-list is fully used.
func checkMediaReferences(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	dir := t.TempDir()
	written, err := SeedMedia(dir, 1)
	require.NoError(t, err)

	var referenced []string
	for _, tc := range config.DefaultFileColumns {
		table, col, ok := strings.Cut(tc, ".")
		require.True(t, ok, tc)
		rows, err := conn.Query(context.Background(), "SELECT DISTINCT "+col+" FROM "+table+" WHERE "+col+" IS NOT NULL")
		require.NoError(t, err, tc)
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, tc)
		if !slices.Contains(emptyColumns, tc) {
			require.NotEmpty(t, vals, tc)
		}
		referenced = append(referenced, vals...)
	}
	var missing []string
	for _, p := range referenced {
		if !slices.Contains(written, p) {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	want := slices.Clone(MissingFiles)
	slices.Sort(want)
	require.Equal(t, want, missing)

	// Every media file of a referenced kind is used by some row.
	for _, p := range slices.Concat(documentFiles, bannerFiles, pubmatFiles, healthInfoImages, reportFiles) {
		require.Contains(t, referenced, p)
	}
}

// TestSeedLarge is a manual benchmark: DEMO_LARGE_PATIENTS=200000 go test
// -run TestSeedLarge -v ./internal/demo reports time and database size.
func TestSeedLarge(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DEMO_LARGE_PATIENTS"))
	if n == 0 {
		t.Skip("set DEMO_LARGE_PATIENTS to run")
	}
	ctx := context.Background()
	dsn := newTestDB(t)
	start := time.Now()
	counts, err := Seed(ctx, dbconn.MustParse(dsn), Options{Patients: n})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var size string
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size))
	t.Logf("%d patients in %v, %s: %v", n, time.Since(start), size, counts)
}
