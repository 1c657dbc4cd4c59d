package jobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

func (b *testBundle) upload(t *testing.T, name string, body []byte, m *backup.Manifest, limit int64) (queries.Backup, error) {
	t.Helper()
	typ, err := backup.UploadType(name)
	require.NoError(t, err)
	return Upload(context.Background(), b.d.Pool, b.insertOnly(t), bytes.NewReader(body), UploadRequest{Filename: name,
		Type: typ, Manifest: m, MaxBytes: limit, Store: b.d.Store, Keys: b.d.Keys, PGRestore: "pg_restore"})
}

// assertStorageEmpty proves a refused upload left nothing behind, published or temporary.
func (b *testBundle) assertStorageEmpty(t *testing.T) {
	t.Helper()
	objs, err := b.d.Store.List(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, objs)
	tmp, _ := os.ReadDir(filepath.Join(b.dir, ".tmp"))
	require.Empty(t, tmp)
	n, err := b.d.Q.BackupCount(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
}

// legacyExport is a database_backup_*.json.gz of the old system.
func legacyExport(t *testing.T, patients, users int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(legacyJSON(t, patients, users))
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// legacyJSON is a database_backup_*.json as the old system wrote it: Django's fixture layout, indented.
func legacyJSON(t *testing.T, patients, users int) []byte {
	t.Helper()
	var objs []map[string]any
	for i := 1; i <= users; i++ {
		objs = append(objs, map[string]any{"model": "authentication.user", "pk": i,
			"fields": map[string]any{"email": fmt.Sprintf("u%d@usc.edu.ph", i), "password": "pbkdf2_sha256$x"}})
	}
	for i := 1; i <= patients; i++ {
		objs = append(objs, map[string]any{"model": "patients.patient", "pk": i, "fields": map[string]any{"first_name": "P", "user": i%users + 1}})
	}
	raw, err := json.MarshalIndent(objs, "", "  ")
	require.NoError(t, err)
	return raw
}

// Truncated uploads of every type are refused with a clear message and leave nothing stored or recorded.
func TestUploadTruncatedIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dump, err := exec.Command("pg_dump", "--format=custom", "--compress=0", "--dbname="+b.source).Output()
	require.NoError(t, err)

	_, err = b.upload(t, "clinic.dump", dump[:len(dump)*2/3], nil, 1<<30)
	require.ErrorContains(t, err, "incomplete or damaged (truncated?)")
	b.assertStorageEmpty(t)

	legacy := legacyExport(t, 300, 40)
	_, err = b.upload(t, "database_backup_20250101.json.gz", legacy[:len(legacy)-9], nil, 1<<30)
	require.ErrorContains(t, err, "truncated")
	b.assertStorageEmpty(t)

	_, err = b.upload(t, "database_backup_x.json.gz", []byte(`[{"model":"a.b","pk":1,"fields":{}}]`), nil, 1<<30)
	require.ErrorContains(t, err, "not a gzip file")
	_, err = b.upload(t, "notes.dump", []byte("-- plain SQL\nSELECT 1;\n"), nil, 1<<30)
	require.ErrorContains(t, err, "PGDMP")
	_, err = b.upload(t, "clinic.dump", dump, nil, int64(len(dump)-1))
	require.ErrorIs(t, err, backup.ErrTooLarge)
	b.assertStorageEmpty(t)
}

// A valid legacy export is stored sealed, listed with its models and counts, and its automatic archive
// verification parses it fully.
func TestUploadLegacyIsListedAndVerified(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bk, err := b.upload(t, "database_backup_20250101_020000.json.gz", legacyExport(t, 300, 40), nil, 1<<30)
	require.NoError(t, err)
	require.Equal(t, "upload", bk.Trigger)
	require.Equal(t, backup.FormatLegacy, bk.Format)
	listed, err := b.d.Q.BackupList(context.Background(), queries.BackupListParams{Lim: 10})
	require.NoError(t, err)
	require.Len(t, listed, 1)
	require.Equal(t, bk.ID, listed[0].ID)
	m, err := backup.ParseManifest(bk.Manifest)
	require.NoError(t, err)
	require.Equal(t, []backup.TableCount{{Name: "authentication.user", Rows: 40}, {Name: "patients.patient", Rows: 300}}, m.Tables)
	stored, err := os.ReadFile(filepath.Join(b.dir, bk.StorageKey))
	require.NoError(t, err)
	require.NotContains(t, string(stored), "pbkdf2", "the export is stored encrypted")

	b.startWorker(t)
	vs, err := b.d.Q.VerificationListByBackup(context.Background(), bk.ID)
	require.NoError(t, err)
	require.Len(t, vs, 2, "checksum and archive are queued with the upload")
	for _, v := range vs {
		v = b.waitVerification(t, v.ID)
		require.Equal(t, "succeeded", v.Status, "%s: %s", v.Level, v.Error)
	}
}

// A pisbackup artifact with its manifest is accepted as is; one that does not match its manifest is refused.
func TestUploadSealedWithManifest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	orig := b.backupNow(t, client)
	art, err := os.ReadFile(filepath.Join(b.dir, orig.StorageKey))
	require.NoError(t, err)
	m, err := backup.GetManifest(context.Background(), b.d.Store, orig.StorageKey)
	require.NoError(t, err)

	_, err = b.upload(t, "x.dump.zst.age", art[:len(art)-100], m, 1<<30)
	require.ErrorContains(t, err, "does not match its manifest")
	_, err = b.upload(t, "x.dump.zst.age", art, nil, 1<<30)
	require.ErrorContains(t, err, "needs its manifest")

	up, err := b.upload(t, "x.dump.zst.age", art, m, 1<<30)
	require.NoError(t, err)
	require.Equal(t, orig.Sha256, up.Sha256)
	require.NotEqual(t, orig.StorageKey, up.StorageKey)
	_, err = b.d.Store.Stat(context.Background(), storage.ManifestKey(up.StorageKey))
	require.NoError(t, err)
	vs, err := b.d.Q.VerificationListByBackup(context.Background(), up.ID)
	require.NoError(t, err)
	for _, v := range vs {
		v = b.waitVerification(t, v.ID)
		require.Equal(t, "succeeded", v.Status, "%s: %s", v.Level, v.Error)
	}
	// Nothing the uploaded manifest says about objects elsewhere is kept: its global objects stayed in the
	// other storage (the key it names would be one of ours), and the roles it lists are its own claim, so a
	// restore may not create them.
	require.NotEmpty(t, m.GlobalsKey)
	um, err := backup.ParseManifest(up.Manifest)
	require.NoError(t, err)
	require.Empty(t, um.GlobalsKey)
	require.Contains(t, um.GlobalsError, "uploaded")
	_, _, _, err = PlanRestore(context.Background(), b.d.Q, b.d.Cfg, RestoreRequest{BackupID: up.ID, TargetDB: "pisbackup_never_" + strconv.FormatInt(up.ID, 10), CreateRoles: true})
	require.ErrorContains(t, err, "was uploaded")
}
