package jobs

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
)

// zipFile is one entry of a test zip. declare, when not 0, is written as the uncompressed size instead of the
// body's real one (a lying entry); mode 0 is a regular 0644 file.
type zipFile struct {
	name    string
	body    []byte
	mode    fs.FileMode
	declare int64
}

// zipOf writes entries as Python's zipfile.ZipFile(..., ZIP_DEFLATED).write does (the old system's writer).
func zipOf(t *testing.T, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)}
		if len(f.body) == 0 {
			h.Method = zip.Store // as zipfile stores empty files; and a deflater per entry is slow
		}
		h.SetMode(f.mode | 0o644)
		if f.declare == 0 {
			w, err := zw.CreateHeader(h)
			require.NoError(t, err)
			_, err = w.Write(f.body)
			require.NoError(t, err)
			continue
		}
		var c bytes.Buffer
		fw, _ := flate.NewWriter(&c, flate.BestSpeed)
		_, _ = fw.Write(f.body)
		require.NoError(t, fw.Close())
		h.CompressedSize64, h.UncompressedSize64, h.CRC32 = uint64(c.Len()), uint64(f.declare), crc32.ChecksumIEEE(f.body)
		w, err := zw.CreateRaw(h)
		require.NoError(t, err)
		_, err = w.Write(c.Bytes())
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// legacyMedia are media files as the clinic's FileFields name them, with contents that do not compress.
func legacyMedia(t *testing.T) map[string][]byte {
	t.Helper()
	noise := func(n int, seed byte) []byte {
		b := make([]byte, n)
		h := sha256.Sum256([]byte{seed})
		for i := range b {
			if i%32 == 0 {
				h = sha256.Sum256(h[:])
			}
			b[i] = h[i%32]
		}
		return b
	}
	return map[string][]byte{
		"patient_documents/2025/03/lab result.pdf":     append([]byte("%PDF-1.4\n"), noise(200<<10, 1)...),
		"health_info/campaigns/banner.png":             noise(50<<10, 2),
		"medical_certificates/2025/01/cert ñ 001.docx": noise(3<<10, 3),
	}
}

// oldFullBackup is a full_backup_*.zip laid out as galenelijah/USC-PIS fast_backup_engine.py writes it: the
// dumpdata JSON at the top, MEDIA_ROOT's files under media/, collectstatic's under staticfiles/.
func oldFullBackup(t *testing.T, media map[string][]byte) []byte {
	t.Helper()
	files := []zipFile{{name: "database_backup_20250101_020000.json", body: legacyJSON(t, 120, 10)}}
	for name, body := range media {
		files = append(files, zipFile{name: "media/" + name, body: body})
	}
	files = append(files, zipFile{name: "staticfiles/admin/css/base.css", body: []byte("body{}")},
		zipFile{name: "staticfiles/index.html", body: []byte("<html></html>")})
	return zipOf(t, files...)
}

// requireRefused asserts an upload was refused as bad input (a 4xx, one line naming the problem) and left
// nothing behind.
func (b *testBundle) requireRefused(t *testing.T, err error, want string) {
	t.Helper()
	var ue *backup.UploadError
	require.True(t, errors.As(err, &ue), "not refused as bad input: %T %v", err, err)
	require.ErrorContains(t, err, want)
	require.NotContains(t, err.Error(), "\n")
	b.assertStorageEmpty(t)
}

// Issue 22: the old system's uncompressed database_backup_*.json is accepted like its .json.gz: stored sealed,
// listed with its models and counts, verified by parsing it fully, restorable only with loaddata, and never the
// clinic's recovery point.
func TestUploadLegacyJSONIsStoredVerifiedAndKeptApart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	bk, err := b.upload(t, "database_backup_20250101_020000.json", legacyJSON(t, 300, 40), nil, 1<<30)
	require.NoError(t, err)
	require.Equal(t, "upload", bk.Trigger)
	require.Equal(t, "upload", bk.Origin)
	require.Equal(t, "django-dumpdata-json+zstd+age", bk.Format)
	m, err := backup.ParseManifest(bk.Manifest)
	require.NoError(t, err)
	require.Equal(t, []backup.TableCount{{Name: "authentication.user", Rows: 40}, {Name: "patients.patient", Rows: 300}}, m.Tables)
	require.Contains(t, m.Restore, "loaddata database_backup.json")
	stored, err := os.ReadFile(filepath.Join(b.dir, bk.StorageKey))
	require.NoError(t, err)
	require.NotContains(t, string(stored), "pbkdf2", "the export is stored encrypted")

	client := b.startWorker(t)
	b.waitVerificationsOf(t, bk.ID)
	vs, err := b.d.Q.VerificationListByBackup(ctx, bk.ID)
	require.NoError(t, err)
	require.Len(t, vs, 2, "checksum and archive are queued with the upload")
	for _, v := range vs {
		require.Equal(t, "succeeded", v.Status, "%s: %s", v.Level, v.Error)
	}
	_, err = EnqueueRestore(ctx, b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: b.restoreTarget(t)})
	var nr *NotRestorableError
	require.True(t, errors.As(err, &nr), "%v", err)
	require.ErrorContains(t, err, "manage.py loaddata")
	_, err = b.d.Q.BackupLatestGood(ctx, "database")
	require.ErrorIs(t, err, pgx.ErrNoRows, "an upload is never the clinic's recovery point")
}

// A .json that is not a Django dumpdata export is refused with the reason, whatever it is instead, and the
// streaming limits of .json.gz exports hold for .json too.
func TestUploadJSONNotDumpdataIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct{ body, want string }{
		{`{"model": "patients.patient", "pk": 1, "fields": {}}`, "starts with '['"},
		{`{"format_version":1,"kind":"database","format":"pg_dump-custom+zstd+age"}`, "starts with '['"},
		{"[1, 2, 3]", "not a valid Django dumpdata export"},
		{`[{"id": 1, "first_name": "Ana"}]`, `lacks "model" or "fields"`},
		{`[{"model": "patients.patient", "pk": 1, "fields": {}}`, "truncated"},
		{`[{"model": "patients.patient", "pk": 1, "fields": {}}] []`, "data after the JSON array"},
		{"", "truncated"},
		{`[{"model": "patients.note", "pk": 1, "fields": {"text": "` + strings.Repeat("A", 33<<20) + `"}}]`, "one JSON value is larger than 32 MiB"},
	} {
		_, err := b.upload(t, "database_backup_20250101_020000.json", []byte(c.body), nil, 1<<30)
		b.requireRefused(t, err, c.want)
	}
	_, err := backup.UploadType("database-20260101T000000Z-7.manifest.json")
	require.ErrorContains(t, err, `send it as the "manifest" part`)
}

// Issue 22: the old system's full_backup_*.zip becomes a full backup of two parts: the dumpdata JSON (listed,
// verified, restored with loaddata) and the media/ files as a media backup, verified to the drill and restored
// into a new directory byte for byte; nothing counts as the clinic's recovery point.
func TestUploadLegacyFullBackupZip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	media := legacyMedia(t)
	parent, err := b.upload(t, "full_backup_20250101_020000.zip", oldFullBackup(t, media), nil, 1<<30)
	require.NoError(t, err)
	require.Equal(t, "full", parent.Kind)
	require.Equal(t, "upload", parent.Origin)
	parts, err := b.d.Q.BackupListChildren(ctx, &parent.ID)
	require.NoError(t, err)
	require.Len(t, parts, 2)
	db, md := parts[0], parts[1]
	require.Equal(t, "database", db.Kind)
	require.Equal(t, "django-dumpdata-json+zstd+age", db.Format)
	require.Equal(t, "media", md.Kind)
	require.Equal(t, backup.FormatMedia, md.Format)
	for _, p := range parts {
		require.Equal(t, "upload", p.Origin)
		stored, err := os.ReadFile(filepath.Join(b.dir, p.StorageKey))
		require.NoError(t, err)
		require.NotContains(t, string(stored), "pbkdf2")
		require.NotContains(t, string(stored), "%PDF")
	}
	dm, err := backup.ParseManifest(db.Manifest)
	require.NoError(t, err)
	require.Equal(t, []backup.TableCount{{Name: "authentication.user", Rows: 10}, {Name: "patients.patient", Rows: 120}}, dm.Tables)
	mm, err := backup.ParseManifest(md.Manifest)
	require.NoError(t, err)
	want := map[string]string{}
	for name, body := range media {
		sum := sha256.Sum256(body)
		want[name] = hex.EncodeToString(sum[:])
	}
	got := map[string]string{}
	for _, f := range mm.Files {
		got[f.Path] = f.SHA256
	}
	require.Equal(t, want, got, "the media part holds media/ under the names the FileFields store")
	require.Contains(t, strings.Join(mm.Warnings, "\n"), "2 staticfiles/ entries left out")

	client := b.startWorker(t)
	for _, p := range parts {
		b.waitVerificationsOf(t, p.ID)
		vs, err := b.d.Q.VerificationListByBackup(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, vs, 2, "checksum and archive are queued for each part")
		for _, v := range vs {
			require.Equal(t, "succeeded", v.Status, "%s %s: %s", p.Kind, v.Level, v.Error)
		}
	}
	v := b.verifyNow(t, client, md.ID, "drill")
	require.Equal(t, "succeeded", v.Status, v.Error)

	// Restore the media part: into a new directory, byte for byte; never into one that holds files.
	dir := filepath.Join(t.TempDir(), "media")
	r, err := EnqueueRestore(ctx, b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: md.ID, TargetDir: dir})
	require.NoError(t, err)
	r = b.waitRestore(t, r.ID)
	require.Equal(t, "succeeded", r.Status, r.Error)
	for name, body := range media {
		restored, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		require.NoError(t, err)
		require.Equal(t, body, restored, name)
	}
	require.NoDirExists(t, filepath.Join(dir, "staticfiles"))
	existing := filepath.Join(t.TempDir(), "live")
	live := filepath.Join(existing, "patient_documents", "2025", "03", "lab result.pdf")
	require.NoError(t, os.MkdirAll(filepath.Dir(live), 0o755))
	require.NoError(t, os.WriteFile(live, []byte("newer version"), 0o644))
	_, err = EnqueueRestore(ctx, b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: md.ID, TargetDir: existing})
	require.ErrorContains(t, err, "not empty")
	kept, err := os.ReadFile(live)
	require.NoError(t, err)
	require.Equal(t, "newer version", string(kept))

	// The database part is restored as the old system's exports are: with loaddata.
	_, err = EnqueueRestore(ctx, b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: db.ID, TargetDB: b.restoreTarget(t)})
	require.ErrorContains(t, err, "manage.py loaddata")
	for _, kind := range []string{"database", "media", "full"} {
		_, err = b.d.Q.BackupLatestGood(ctx, kind)
		require.ErrorIs(t, err, pgx.ErrNoRows, "an upload is never the clinic's recovery point (%s)", kind)
	}
}

// Zip bombs and lying entries are refused before (or, for a lie, as soon as) they inflate past what they
// declare, with one line naming the entry, and leave nothing stored.
func TestUploadLegacyZipBombsAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dbJSON := zipFile{name: "database_backup_20250101_020000.json", body: legacyJSON(t, 3, 1)}
	pdf := bytes.Repeat([]byte("%PDF lab result "), 64<<10) // 1 MiB

	// 200 MiB of zeros: a ~200 KB file.
	_, err := b.upload(t, "full_backup_1.zip", zipOf(t, dbJSON, zipFile{name: "media/scan.pdf", body: make([]byte, 200<<20)}), nil, 1<<30)
	b.requireRefused(t, err, "more than 200 times its size: a decompression bomb")

	// An entry that inflates past the size it declares, in the media and in the database JSON.
	_, err = b.upload(t, "full_backup_1.zip", zipOf(t, dbJSON, zipFile{name: "media/a.pdf", body: pdf, declare: 1000}), nil, 1<<30)
	b.requireRefused(t, err, `zip entry "media/a.pdf" inflates past its declared size of 1000 bytes`)
	big := legacyJSON(t, 20000, 10)
	_, err = b.upload(t, "full_backup_1.zip", zipOf(t, zipFile{name: dbJSON.name, body: big, declare: 4096}), nil, 1<<30)
	b.requireRefused(t, err, "inflates past its declared size of 4096 bytes")
	// …and one that holds less than it declares.
	_, err = b.upload(t, "full_backup_1.zip", zipOf(t, dbJSON, zipFile{name: "media/a.pdf", body: pdf, declare: int64(len(pdf)) + 10}), nil, 1<<30)
	b.requireRefused(t, err, `zip entry "media/a.pdf" ends before its declared size`)

	// Entries sharing one compressed kernel (how non-recursive zip bombs multiply).
	_, err = b.upload(t, "full_backup_1.zip", overlapping(t, zipOf(t, dbJSON, zipFile{name: "media/a.pdf", body: pdf},
		zipFile{name: "media/b.pdf", body: pdf})), nil, 1<<30)
	b.requireRefused(t, err, "share data")

	// The database JSON keeps the limits of .json.gz exports inside a zip.
	_, err = b.upload(t, "full_backup_1.zip", zipOf(t, zipFile{name: dbJSON.name,
		body: []byte(`[{"model": "patients.note", "pk": 1, "fields": {"text": "` + strings.Repeat("A", 40<<20) + `"}}]`)}), nil, 1<<30)
	b.requireRefused(t, err, "one JSON value is larger than 32 MiB")

	// Many entries: refused from the entry count before archive/zip reads (and allocates for) them all.
	many := []zipFile{dbJSON}
	for i := range 100_000 { // backup.LegacyZipMaxEntries, so 100001 with the database
		many = append(many, zipFile{name: fmt.Sprintf("media/f/%d", i)})
	}
	_, err = b.upload(t, "full_backup_1.zip", zipOf(t, many...), nil, 1<<30)
	b.requireRefused(t, err, "declares 100001 entries; a legacy full backup may hold at most 100000")
	// …and a central directory too large to read, whatever the count says.
	long := []zipFile{dbJSON}
	for i := range 300 {
		long = append(long, zipFile{name: fmt.Sprintf("media/%s%d", strings.Repeat("n", 60000), i)})
	}
	_, err = b.upload(t, "full_backup_1.zip", zipOf(t, long...), nil, 1<<30)
	b.requireRefused(t, err, "central directory passes 16 MiB")
}

// overlapping points the last central directory entry of z at the local header of the one before it.
func overlapping(t *testing.T, z []byte) []byte {
	t.Helper()
	var offsets []int
	for i := 0; ; {
		j := bytes.Index(z[i:], []byte("PK\x01\x02"))
		if j < 0 {
			break
		}
		offsets = append(offsets, i+j)
		i += j + 4
	}
	require.GreaterOrEqual(t, len(offsets), 2)
	prev, last := offsets[len(offsets)-2], offsets[len(offsets)-1]
	out := bytes.Clone(z)
	binary.LittleEndian.PutUint32(out[last+42:], binary.LittleEndian.Uint32(z[prev+42:]))
	return out
}

// Entry names that would land outside the restore directory, links, duplicates and anything not in the old
// system's layout are refused with one line naming the entry; nothing is stored.
func TestUploadLegacyZipUnsafeNamesAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dbJSON := zipFile{name: "database_backup_20250101_020000.json", body: legacyJSON(t, 3, 1)}
	doc := []byte("%PDF clinic file")
	for _, c := range []struct {
		files []zipFile
		want  string
	}{
		{[]zipFile{dbJSON, {name: "media/../../etc/cron.d/evil", body: doc}}, `zip entry "media/../../etc/cron.d/evil" points outside its folder`},
		{[]zipFile{dbJSON, {name: "../database_backup_2.json", body: doc}}, `zip entry "../database_backup_2.json" points outside its folder`},
		{[]zipFile{dbJSON, {name: "/etc/passwd", body: doc}}, `zip entry "/etc/passwd" points outside its folder`},
		{[]zipFile{dbJSON, {name: `media\..\..\evil.pdf`, body: doc}}, `points outside its folder`},
		{[]zipFile{dbJSON, {name: "media/docs", body: []byte("../../../etc"), mode: fs.ModeSymlink}}, `zip entry "media/docs" is a symbolic link`},
		{[]zipFile{dbJSON, {name: "media/a.pdf", body: doc}, {name: "media/a.pdf", body: doc}}, `zip entry "media/a.pdf" appears twice`},
		{[]zipFile{dbJSON, {name: "media/a", body: doc}, {name: "media/a/b.pdf", body: doc}}, "media/a to be a folder, but it is also a file"},
		{[]zipFile{dbJSON, {name: "notes.txt", body: doc}}, `zip entry "notes.txt" is not part of the old system's full backup`},
		{[]zipFile{{name: "media/a.pdf", body: doc}}, "no database_backup_*.json at its top level"},
		{[]zipFile{dbJSON, {name: "database_backup_20250102_020000.json", body: dbJSON.body}}, "two database exports"},
		{[]zipFile{{name: dbJSON.name, body: []byte(`{"not": "dumpdata"}`)}}, "not a Django dumpdata export: expected a JSON array"},
	} {
		_, err := b.upload(t, "full_backup_20250101_020000.zip", zipOf(t, c.files...), nil, 1<<30)
		b.requireRefused(t, err, c.want)
	}
	good := oldFullBackup(t, legacyMedia(t))
	_, err := b.upload(t, "full_backup_1.zip", good[:len(good)/2], nil, 1<<30)
	b.requireRefused(t, err, "not a readable zip file (truncated or damaged?)")
	_, err = b.upload(t, "full_backup_1.zip", []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), nil, 1<<30)
	b.requireRefused(t, err, "the zip is empty")
	_, err = b.upload(t, "full_backup_1.zip", []byte("hello"), nil, 1<<30)
	b.requireRefused(t, err, "not a zip file")
	_, err = b.upload(t, "full_backup_1.zip", good, nil, int64(len(good)-1))
	require.ErrorIs(t, err, backup.ErrTooLarge)
	b.assertStorageEmpty(t)
}
