package jobs

import (
	"archive/tar"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/queries"
)

// withMedia seeds a media root for the bundle and, when srv is given, points Cloudinary at it.
func (b *testBundle) withMedia(t *testing.T, srv *cloudinarytest.Server) []string {
	t.Helper()
	b.d.Cfg.MediaRoot = t.TempDir()
	seeded, err := demo.SeedMedia(b.d.Cfg.MediaRoot, 1)
	require.NoError(t, err)
	if srv != nil {
		b.d.Cfg.CloudinaryURL = srv.CloudinaryURL()
	}
	return seeded
}

func TestFullBackupFlagsMissingReferencedMedia(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := cloudinarytest.New(t)
	seeded := b.withMedia(t, srv)
	client := b.startWorker(t)
	ctx := context.Background()
	// Two originals already live in Cloudinary; the media part downloads them into its tar.
	cld, err := cloudinary.New(srv.CloudinaryURL())
	require.NoError(t, err)
	for _, rel := range seeded[:2] {
		_, err := cld.Upload(ctx, filepath.Join(b.d.Cfg.MediaRoot, rel), cloudinary.UploadTarget{PublicID: "usc_pis_media/" + rel})
		require.NoError(t, err)
	}

	full, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "full", Trigger: "manual"})
	require.NoError(t, err)
	row := b.waitFinal(t, full.ID)
	require.Equal(t, "warning", row.Status, row.Error)
	m, err := backup.ParseManifest(row.Manifest)
	require.NoError(t, err)
	require.ElementsMatch(t, demo.MissingFiles, m.Missing)
	require.Equal(t, len(seeded)+2, m.FileCount, "MEDIA_ROOT's files plus the two Cloudinary originals")
	require.NotEmpty(t, m.Tables)

	var kids []queries.Backup
	rows, err := b.d.Pool.Query(ctx, "SELECT kind, status, storage_key FROM backups WHERE parent_id = $1 ORDER BY kind", full.ID)
	require.NoError(t, err)
	for rows.Next() {
		var k queries.Backup
		require.NoError(t, rows.Scan(&k.Kind, &k.Status, &k.StorageKey))
		kids = append(kids, k)
	}
	require.NoError(t, rows.Err())
	require.Len(t, kids, 2)
	require.Equal(t, "database", kids[0].Kind)
	require.Equal(t, "succeeded", kids[0].Status)
	require.Equal(t, "media", kids[1].Kind)
	require.Equal(t, "warning", kids[1].Status, "the media part carries the missing references too")
	media, err := backup.GetManifest(ctx, b.d.Store, kids[1].StorageKey)
	require.NoError(t, err)
	require.Equal(t, full.ID, media.ParentID)
	require.ElementsMatch(t, demo.MissingFiles, media.Missing)
	var remote int
	for _, f := range media.Files {
		if strings.HasPrefix(f.Path, backup.RemotePrefix) {
			remote++
		}
	}
	require.Equal(t, 2, remote)
}

func TestMediaBackupVerifiesAtEveryLevel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.withMedia(t, nil)
	client := b.startWorker(t)
	ctx := context.Background()
	mb, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "media", Trigger: "cli"})
	require.NoError(t, err)
	row := b.waitFinal(t, mb.ID)
	require.Equal(t, "succeeded", row.Status, row.Error)
	require.Equal(t, "tar+zstd+age", row.Format)
	for _, level := range []string{"archive", "drill"} {
		v, err := EnqueueVerification(ctx, b.d.Pool, client, VerifyRequest{BackupID: mb.ID, Level: level})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			v, err = b.d.Q.VerificationGet(ctx, v.ID)
			require.NoError(t, err)
			return v.Status != "queued" && v.Status != "running"
		}, 60*time.Second, 50*time.Millisecond)
		require.Equal(t, "succeeded", v.Status, level+": "+v.Error)
	}
}

func waitMigration(t *testing.T, q *queries.Queries, id int64) queries.MediaMigration {
	t.Helper()
	var m queries.MediaMigration
	require.Eventually(t, func() bool {
		var err error
		m, err = q.MediaMigrationGet(context.Background(), id)
		require.NoError(t, err)
		return m.Status != "queued" && m.Status != "running"
	}, 60*time.Second, 50*time.Millisecond)
	return m
}

func TestMediaMigrationJobBacksUpFirstAndDryRunSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := cloudinarytest.New(t)
	b.withMedia(t, srv)
	client := b.startWorker(t)
	ctx := context.Background()

	dry, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DryRun: true})
	require.NoError(t, err)
	dry = waitMigration(t, b.d.Q, dry.ID)
	require.Equal(t, "succeeded", dry.Status, dry.Error)
	require.Zero(t, srv.RequestCount(), "a dry run makes no request at all")
	var det MigrationDetails
	require.NoError(t, json.Unmarshal(dry.Details, &det))
	items, err := mediamigration.Plan(b.d.Cfg.MediaRoot, MediaNaming(b.d.Cfg), nil)
	require.NoError(t, err)
	require.Equal(t, len(items), det.Report.Files)
	require.NotEmpty(t, det.Report.Folders)
	require.Zero(t, dry.Uploaded)

	run, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{BackupFirst: true, Concurrency: 4})
	require.NoError(t, err)
	run = waitMigration(t, b.d.Q, run.ID)
	require.Equal(t, "succeeded", run.Status, run.Error)
	require.NotNil(t, run.BackupID)
	bk, err := b.d.Q.BackupGet(ctx, *run.BackupID)
	require.NoError(t, err)
	require.Equal(t, "media", bk.Kind)
	require.Equal(t, "succeeded", bk.Status)
	require.True(t, bk.FinishedAt.Before(*run.FinishedAt))
	require.Equal(t, int32(len(items)), run.Verified)
	require.Equal(t, len(items), srv.UploadCount())
}

func TestOrphanedMigrationRunDoesNotBlockTheNext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.insertOnly(t)
	first, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DryRun: true})
	require.NoError(t, err)
	_, err = EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DryRun: true})
	require.ErrorIs(t, err, ErrMigrationActive, "its job is still queued")
	// The worker died and River discarded the job: the run must not stay "queued" forever.
	_, err = b.d.Pool.Exec(ctx, "UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE id = $1", *first.JobID)
	require.NoError(t, err)
	second, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DryRun: true})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, second.ID)
	old, err := b.d.Q.MediaMigrationGet(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", old.Status)
	require.Contains(t, old.Error, "re-run to resume")
}

// A stored media artifact whose tar carries "../" (a tampered or hostile backup) is refused on restore, and
// nothing is written outside the target directory.
func TestMediaRestoreRefusesTraversal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.startWorker(t)
	row, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "media", Trigger: "cli", Encrypted: true, Format: backup.FormatMedia})
	require.NoError(t, err)
	key := "media/2026/01/01/media-20260101T000000Z-" + "evil.tar.zst.age"
	w, err := b.d.Store.Create(ctx, key)
	require.NoError(t, err)
	sealer, err := backup.NewSealer(w, b.d.Keys.Recipients)
	require.NoError(t, err)
	tw := tar.NewWriter(sealer)
	for _, name := range []string{"ok.txt", "../escaped.txt"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}))
		_, err = tw.Write([]byte("hi"))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, sealer.Close())
	require.NoError(t, w.Commit())
	m := &backup.Manifest{Kind: "media", Format: backup.FormatMedia, Encrypted: true,
		Files: []backup.MediaFile{{Path: "ok.txt", Size: 2}, {Path: "../escaped.txt", Size: 2}}}
	_, err = b.d.Q.BackupStart(ctx, row.ID)
	require.NoError(t, err)
	_, err = b.d.Q.BackupSucceed(ctx, queries.BackupSucceedParams{ID: row.ID, Status: "succeeded", StorageKey: key,
		Encrypted: true, Sha256: sealer.SHA256(), BytesStored: sealer.StoredBytes(), Manifest: m.JSON(), Warnings: []string{}})
	require.NoError(t, err)

	parent := t.TempDir()
	target := filepath.Join(parent, "restore")
	r, err := EnqueueRestore(ctx, b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: row.ID, TargetDir: target})
	require.NoError(t, err)
	require.Equal(t, "directory", r.TargetKind)
	require.Eventually(t, func() bool {
		r, err = b.d.Q.RestoreGet(ctx, r.ID)
		require.NoError(t, err)
		return r.Status != "queued" && r.Status != "running"
	}, 60*time.Second, 50*time.Millisecond)
	require.Equal(t, "failed", r.Status)
	require.Contains(t, r.Error, "unsafe tar entry")
	require.Contains(t, r.Error, "..")
	require.NoFileExists(t, filepath.Join(parent, "escaped.txt"))
	ents, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, ents, 1)
}

func TestMigrationWithFailuresEndsWarningAndOpensAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := cloudinarytest.New(t)
	b.withMedia(t, srv)
	srv.BadEtag = true // every upload comes back with an etag that does not match: nothing may count as verified
	clearMissingRefs(t, b)
	client := b.startWorker(t)
	ctx := context.Background()
	run, err := EnqueueMediaMigration(ctx, b.d.Pool, client, MediaMigrationRequest{DeleteLocal: true})
	require.NoError(t, err)
	run = waitMigration(t, b.d.Q, run.ID)
	require.Equal(t, "warning", run.Status)
	require.Zero(t, run.Verified)
	require.Zero(t, run.Deleted, "unverified files are never deleted")
	require.Positive(t, run.Failed)
	var state string
	require.NoError(t, b.d.Pool.QueryRow(ctx, "SELECT state FROM alerts WHERE rule = 'media_migration_failed'").Scan(&state))
	require.Equal(t, "open", state)
}
