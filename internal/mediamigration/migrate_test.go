package mediamigration_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// naming is the clinic app's: no prefix, its media tag, reports stored raw.
var naming = mediamigration.Naming{Tag: "usc-pis-media", RawColumns: []string{"reports_generatedreport.file_path"}}

type bundle struct {
	root   string
	seeded []string
	srv    *cloudinarytest.Server
	client *cloudinary.Client
	q      *queries.Queries
	items  []mediamigration.Item
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool, _ := testdb.Catalog(t)
	root := t.TempDir()
	seeded, err := demo.SeedMedia(root, 1)
	require.NoError(t, err)
	srv := cloudinarytest.New(t)
	c, err := cloudinary.New(srv.CloudinaryURL())
	require.NoError(t, err)
	c.Retry = cloudinary.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: 5 * time.Second}
	items, err := mediamigration.Plan(root, naming, nil)
	require.NoError(t, err)
	return &bundle{root: root, seeded: seeded, srv: srv, client: c, q: queries.New(pool), items: items}
}

// run records a migrations row (the ledger's run_id points at it) and migrates the plan.
func (b *bundle) run(t *testing.T, concurrency int, deleteLocal bool) *mediamigration.Outcome {
	t.Helper()
	ctx := context.Background()
	row, err := b.q.MediaMigrationInsert(ctx, queries.MediaMigrationInsertParams{DeleteLocal: deleteLocal})
	require.NoError(t, err)
	items, err := mediamigration.Plan(b.root, naming, nil)
	require.NoError(t, err)
	out, err := mediamigration.Run(ctx, mediamigration.Options{Root: b.root, Client: b.client, Q: b.q, Tag: naming.Tag,
		RunID: row.ID, Concurrency: concurrency, DeleteLocal: deleteLocal}, items)
	require.NoError(t, err)
	return out
}

func md5Of(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestPlanNamesAsDjangoCloudinaryStorageAndSkipsClutter(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	seeded, err := demo.SeedMedia(root, 1)
	require.NoError(t, err)
	for _, p := range []string{"dup/report.pdf", "dup/report.png", "dup/a b.pdf", "dup/a_b.pdf", "dup/notes.docx",
		"Thumbs.db", "x/.gitignore"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(p), 0o644))
	}
	refs := map[string]string{"reports/monthly_consultations_2025_03.csv": mediamigration.Raw,
		"dup/notes.docx": mediamigration.Image, "patient_documents/2025/03/cbc_0003.pdf": mediamigration.Image}
	items, err := mediamigration.Plan(root, naming, refs)
	require.NoError(t, err)
	ids := map[string]mediamigration.Item{}
	for _, it := range items {
		ids[it.Rel] = it
		require.NotContains(t, []string{".DS_Store", ".gitkeep", ".gitignore", "Thumbs.db"}, filepath.Base(it.Rel))
	}
	require.Len(t, items, len(seeded)-3+5, "seed minus its three clutter files, plus the five dup/ files")
	// The path is kept exactly, spaces included; image public ids drop the extension, raw ones keep it.
	require.Equal(t, mediamigration.Item{Rel: "patient_documents/2025/03/medical clearance 0005.pdf", Size: ids["patient_documents/2025/03/medical clearance 0005.pdf"].Size,
		ResourceType: "image", PublicID: "patient_documents/2025/03/medical clearance 0005"}, ids["patient_documents/2025/03/medical clearance 0005.pdf"])
	require.Equal(t, "campaigns/banners/dengue_awareness", ids["campaigns/banners/dengue_awareness.png"].PublicID)
	require.Equal(t, "raw", ids["reports/monthly_consultations_2025_03.csv"].ResourceType)
	require.Equal(t, "reports/monthly_consultations_2025_03.csv", ids["reports/monthly_consultations_2025_03.csv"].PublicID)
	// Unreferenced files go where Cloudinary can take them.
	require.Equal(t, "raw", ids["reports/feedback_summary_2025_q1.csv"].ResourceType)
	// A .docx referenced from an image field can never resolve: not uploaded, with what to do.
	require.Contains(t, ids["dup/notes.docx"].Problem, "cannot be an image asset")
	// "a b" and "a_b" are different public ids now; report.pdf and report.png are the same image asset.
	require.Empty(t, ids["dup/a_b.pdf"].Conflict)
	require.Equal(t, "dup/report.pdf", ids["dup/report.png"].Conflict)

	rep := mediamigration.Summarize(items)
	require.Equal(t, len(items), rep.Files)
	require.Equal(t, 1, rep.Conflicts)
	require.Equal(t, 1, rep.Problems)
	var sum int64
	for _, f := range rep.Folders {
		sum += f.Bytes
	}
	require.Equal(t, rep.Bytes, sum)
}

func TestNamingFollowsDjangoCloudinaryStorage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix, value, rtype, name, publicID string
	}{
		{"", "patient_documents/2025/03/lab result.pdf", "image", "patient_documents/2025/03/lab result.pdf", "patient_documents/2025/03/lab result"},
		{"", "campaigns/banners/flu.png", "image", "campaigns/banners/flu.png", "campaigns/banners/flu"},
		{"", "reports/monthly_2025_03.csv", "raw", "reports/monthly_2025_03.csv", "reports/monthly_2025_03.csv"},
		{"/media/", "campaigns/banners/flu.png", "image", "media/campaigns/banners/flu.png", "media/campaigns/banners/flu"},
		{"media", "media/campaigns/x.png", "image", "media/campaigns/x.png", "media/campaigns/x"}, // already prefixed: not doubled
		{"", `win\path\scan.jpg`, "image", "win/path/scan.jpg", "win/path/scan"},
		{"", "a/archive.tar.gz", "raw", "a/archive.tar.gz", "a/archive.tar.gz"},
	} {
		n := mediamigration.Naming{Prefix: tc.prefix}
		require.Equal(t, tc.name, n.Name(tc.value), tc)
		require.Equal(t, mediamigration.Asset{ResourceType: tc.rtype, PublicID: tc.publicID}, n.AssetFor(tc.value, tc.rtype), tc)
	}
	n := mediamigration.Naming{}
	for _, bad := range []struct{ value, rtype string }{{"resources/guide.docx", "image"}, {"a/b?.png", "image"},
		{"a/100%.png", "image"}, {"a/clip.mp4", "image"}, {" a.png", "image"}, {"a/x.csv", "video"}} {
		reason, fix := n.Problem(bad.value, bad.rtype)
		require.NotEmpty(t, reason, bad)
		require.NotEmpty(t, fix, bad)
	}
	for _, good := range []struct{ value, rtype string }{{"a/lab result.pdf", "image"}, {"resources/guide.docx", "raw"},
		{"a/b.JPG", "image"}, {"a/clip.mp4", "video"}} {
		reason, _ := n.Problem(good.value, good.rtype)
		require.Empty(t, reason, good)
	}
}

func TestRunUploadsEveryFileOnceAndVerifiesByEtag(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out := b.run(t, 4, false)
	require.Equal(t, len(b.items), out.Verified)
	require.Zero(t, out.Failed)
	require.Equal(t, len(b.items), b.srv.UploadCount())
	for _, it := range b.items {
		require.Equal(t, 1, b.srv.UploadsOf(it.PublicID), it.Rel)
		row, err := b.q.MediaAssetGetByPath(context.Background(), it.Rel)
		require.NoError(t, err)
		require.Equal(t, "verified", row.Status)
		require.Equal(t, md5Of(t, filepath.Join(b.root, it.Rel)), row.Etag)
		require.Equal(t, it.PublicID, row.PublicID)
		require.Contains(t, row.SecureUrl, b.srv.URL)
	}
	// A second run finds everything verified and unchanged: nothing is sent again.
	again := b.run(t, 4, false)
	require.Equal(t, len(b.items), again.Skipped)
	require.Equal(t, len(b.items), b.srv.UploadCount())

	// Changing one file makes exactly that file go up again.
	changed := b.items[0].Rel
	require.NoError(t, os.WriteFile(filepath.Join(b.root, changed), []byte("new content"), 0o644))
	third := b.run(t, 4, false)
	require.Equal(t, 1, third.Verified)
	require.Equal(t, 2, b.srv.UploadsOf(b.items[0].PublicID))

	m, err := mediamigration.Mapping(context.Background(), b.q)
	require.NoError(t, err)
	require.Len(t, m, len(b.items))
	jsonPath, csvPath, err := mediamigration.WriteFiles(m, filepath.Join(t.TempDir(), "map.json"))
	require.NoError(t, err)
	raw, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	require.Contains(t, string(raw), "patient_documents/2025/03/medical clearance 0005.pdf,patient_documents/2025/03/medical clearance 0005,")
	require.FileExists(t, jsonPath)
}

func TestRunResumesAfterServerStartsFailing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 7
	b.srv.FailAfter = n
	first := b.run(t, 3, false)
	require.Equal(t, n, first.Verified)
	require.Equal(t, len(b.items)-n, first.Failed)
	require.NotEmpty(t, first.Failures)

	b.srv.Lock()
	b.srv.FailAfter = 0
	before := maps(b.srv.Uploads)
	b.srv.Unlock()
	second := b.run(t, 3, false)
	require.Equal(t, n, second.Skipped)
	require.Equal(t, len(b.items)-n, second.Verified)
	require.Zero(t, second.Failed)
	// Exactly the remaining files went up in the second run, each once; the first n were not re-sent.
	for _, it := range b.items {
		require.Equal(t, 1, b.srv.UploadsOf(it.PublicID), it.Rel)
		if before[it.PublicID] == 1 {
			continue
		}
		row, err := b.q.MediaAssetGetByPath(context.Background(), it.Rel)
		require.NoError(t, err)
		require.Equal(t, "verified", row.Status)
	}
	require.Equal(t, len(b.items), b.srv.UploadCount())
}

func maps(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestRunHonoursRetryAfterAndLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.client.Retry = cloudinary.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 10 * time.Second}
	b.srv.Throttle, b.srv.RetryAfter = 2, "1"
	start := time.Now()
	out := b.run(t, 1, false)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "two 429s with Retry-After: 1 must wait two seconds")
	require.Equal(t, len(b.items), out.Verified)
	require.Zero(t, out.Failed)
	require.Equal(t, len(b.items), b.srv.UploadCount())
}

func TestDeleteLocalDeletesOnlyVerifiedFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 5
	b.srv.FailAfter = n
	out := b.run(t, 1, true)
	require.Equal(t, n, out.Deleted)
	var gone, kept []string
	for _, it := range b.items {
		_, err := os.Stat(filepath.Join(b.root, it.Rel))
		row, rerr := b.q.MediaAssetGetByPath(context.Background(), it.Rel)
		require.NoError(t, rerr)
		if os.IsNotExist(err) {
			gone = append(gone, it.Rel)
			require.Equal(t, "deleted", row.Status, it.Rel)
		} else {
			kept = append(kept, it.Rel)
			require.Equal(t, "failed", row.Status, it.Rel)
		}
	}
	require.Len(t, gone, n)
	require.Len(t, kept, len(b.items)-n)
	// Clutter that is never migrated is never deleted either.
	require.FileExists(t, filepath.Join(b.root, ".DS_Store"))

	// A corrupted upload (wrong etag) is not verified, so it is not deleted.
	b.srv.Lock()
	b.srv.FailAfter, b.srv.BadEtag = 0, true
	b.srv.Unlock()
	bad := b.run(t, 2, true)
	require.Zero(t, bad.Deleted)
	require.Equal(t, len(kept), bad.Failed)
	for _, p := range kept {
		require.FileExists(t, filepath.Join(b.root, p))
		row, err := b.q.MediaAssetGetByPath(context.Background(), p)
		require.NoError(t, err)
		require.Equal(t, "uploaded", row.Status)
		require.Contains(t, row.Error, "etag")
	}
	require.True(t, slices.IsSorted(gone))
}
