package backup_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// FuzzIngest feeds arbitrary uploads (file name, bytes, manifest) through the whole upload validation. It may
// accept only what is whole and of its type; everything else is an UploadError or ErrTooLarge (a clear 4xx),
// never a panic, and a refused upload leaves nothing in storage, not even a temporary object.
func FuzzIngest(f *testing.F) {
	pgRestore, err := exec.LookPath("pg_restore")
	require.NoError(f, err)
	dump, err := exec.Command("pg_dump", "--format=custom", "--dbname="+testdb.Empty(f)).Output()
	require.NoError(f, err)
	keys, err := crypt.Load(nil, "", filepath.Join(f.TempDir(), "identity.txt"))
	require.NoError(f, err)

	var legacy bytes.Buffer
	zw := gzip.NewWriter(&legacy)
	_, _ = zw.Write([]byte(`[{"model":"patients.patient","pk":1,"fields":{"first_name":"Ana"}}]`))
	require.NoError(f, zw.Close())
	sealed, sealedManifest := sealedUpload(f, keys)

	f.Add("clinic.dump", dump, []byte(nil))
	f.Add("clinic.dump", dump[:len(dump)/2], []byte(nil))                      // truncated
	f.Add("clinic.dump", append([]byte("PGDMP"), 0, 0, 0), []byte(nil))        // the magic alone
	f.Add("clinic.dump", []byte("-- PostgreSQL dump\nSELECT 1;"), []byte(nil)) // plain SQL
	f.Add("database_backup_1.json.gz", legacy.Bytes(), []byte(nil))
	f.Add("database_backup_1.json.gz", legacy.Bytes()[:legacy.Len()-6], []byte(nil))
	f.Add("database_backup_1.json.gz", []byte{0x1f, 0x8b}, []byte(nil))
	f.Add("x.dump.zst.age", sealed, sealedManifest)
	f.Add("x.dump.zst.age", sealed[:len(sealed)-1], sealedManifest)
	f.Add("x.dump.zst.age", sealed, []byte(`{"format_version":1,"kind":"database","format":"pg_dump-custom","sha256":"00","stored_bytes":1}`))
	f.Add("x.dump.zst.age", sealed, []byte(nil))
	f.Add("../../etc/passwd.dump", dump, []byte(nil))
	f.Add("..\\..\\evil.json.gz", legacy.Bytes(), []byte(nil))
	f.Add("database_backup_1.json", []byte(`[{"model":"patients.patient","pk":1,"fields":{"first_name":"Ana"}}]`), []byte(nil))
	f.Add("database_backup_1.json", []byte(`{"model":"patients.patient"}`), []byte(nil))
	f.Add("database_backup_1.json", []byte(`[{"model":"patients.patient","pk":1,"fields":{}`), []byte(nil))
	fullZip := zipBytes(f, "database_backup_1.json", `[{"model":"a.b","pk":1,"fields":{}}]`, "media/docs/a.pdf", "%PDF", "staticfiles/x.css", "b{}")
	f.Add("full_backup_1.zip", fullZip, []byte(nil))
	f.Add("full_backup_1.zip", fullZip[:len(fullZip)-10], []byte(nil))
	f.Add("full_backup_1.zip", zipBytes(f, "database_backup_1.json", `[]`, "media/../../x", "evil"), []byte(nil))
	f.Add("full_backup_1.zip", zipBytes(f, "database_backup_1.json", `[]`, "/abs", "evil"), []byte(nil))
	f.Add("full_backup_1.zip", zipBytes(f, "media/a", "x"), []byte(nil))
	f.Add("full_backup_1.zip", []byte("PK\x05\x06"), []byte(nil))
	f.Add("notes.txt", []byte("hello"), []byte(nil))
	f.Add("", []byte{}, []byte(nil))

	const limit = 256 << 10
	f.Fuzz(func(t *testing.T, name string, body, manifestJSON []byte) {
		typ, err := backup.UploadType(name)
		if err != nil {
			require.Contains(t, err.Error(), "unsupported file")
			return
		}
		var manifest *backup.Manifest
		if len(manifestJSON) > 0 {
			if manifest, err = backup.ParseManifest(manifestJSON); err != nil {
				return // the handler answers 422 "the manifest is not valid JSON" before Ingest
			}
		}
		dir, spool := t.TempDir(), t.TempDir()
		st, err := storage.Open(context.Background(), "file://"+dir, os.Getenv)
		require.NoError(t, err)
		o := backup.IngestOptions{BackupID: 7, Type: typ, Filename: name, Store: st, Keys: keys, PGRestore: pgRestore,
			MaxBytes: limit, Manifest: manifest, TempDir: spool}
		var res *backup.Result
		var stored []string
		if typ == backup.UploadLegacyZip {
			var full *backup.FullUpload
			if full, err = backup.IngestFullZip(context.Background(), bytes.NewReader(body), o, backup.FullUploadIDs{Parent: 7, Database: 8, Media: 9}); err == nil {
				stored = full.Keys()
			}
		} else if res, err = backup.Ingest(context.Background(), bytes.NewReader(body), o); err == nil {
			stored = []string{res.Key, storage.ManifestKey(res.Key)}
		}
		require.Empty(t, filesUnder(t, spool), "the sealed spool of a zip is removed")
		if err != nil {
			var ue *backup.UploadError
			require.True(t, errors.As(err, &ue) || errors.Is(err, backup.ErrTooLarge), "refusal is not an upload error: %T %v", err, err)
			require.NotEmpty(t, err.Error())
			require.Empty(t, filesUnder(t, dir), "a refused upload left files in storage")
			return
		}
		// Accepted: it must really be what its type says, and be published with its manifest.
		for _, k := range stored {
			_, err = st.Stat(context.Background(), k)
			require.NoError(t, err)
		}
		switch typ {
		case backup.UploadDump:
			require.True(t, bytes.HasPrefix(body, []byte("PGDMP")))
		case backup.UploadLegacy:
			require.True(t, bytes.HasPrefix(body, []byte{0x1f, 0x8b}))
		case backup.UploadSealed:
			require.Equal(t, manifest.StoredBytes, int64(len(body)))
		case backup.UploadLegacyZip:
			require.True(t, bytes.HasPrefix(body, []byte("PK\x03\x04")))
			return
		}
		info, err := st.Stat(context.Background(), res.Key)
		require.NoError(t, err)
		require.Equal(t, res.Manifest.StoredBytes, info.Size)
		_, err = st.Stat(context.Background(), storage.ManifestKey(res.Key))
		require.NoError(t, err)
	})
}

// zipBytes is a zip of name, content pairs.
func zipBytes(f *testing.F, pairs ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(pairs); i += 2 {
		w, err := zw.Create(pairs[i])
		require.NoError(f, err)
		_, err = w.Write([]byte(pairs[i+1]))
		require.NoError(f, err)
	}
	require.NoError(f, zw.Close())
	return buf.Bytes()
}

// sealedUpload makes a real pisbackup artifact and its manifest, as a download from another instance gives.
func sealedUpload(f *testing.F, keys *crypt.Keys) ([]byte, []byte) {
	dir := f.TempDir()
	st, err := storage.Open(context.Background(), "file://"+dir, os.Getenv)
	require.NoError(f, err)
	res, err := backup.DumpDatabase(context.Background(), backup.DumpOptions{BackupID: 1, Trigger: "manual",
		Source: dbconn.MustParse(testdb.Empty(f)), Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st, Keys: keys})
	require.NoError(f, err)
	rc, err := st.Open(context.Background(), res.Key)
	require.NoError(f, err)
	defer rc.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	require.NoError(f, err)
	m, err := json.Marshal(res.Manifest)
	require.NoError(f, err)
	return buf.Bytes(), m
}

// filesUnder lists every file below dir, temporary objects included.
func filesUnder(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return err
	}))
	return out
}

// FuzzExtractMedia builds a media archive of two entries with arbitrary names, types and link targets, including
// tar-slip and zip-slip names ("../x", "/abs", "a\\..\\..\\x", a symlink out followed by a write through it),
// and restores it. Whatever the archive holds, nothing may appear outside the target directory; an unsafe entry
// is refused with ErrUnsafeEntry, and every file reported restored is a local path inside it.
func FuzzExtractMedia(f *testing.F) {
	for _, s := range []struct {
		name1 string
		type1 byte
		link1 string
		name2 string
	}{
		{"patient_documents/a.pdf", tar.TypeReg, "", "campaigns/b.png"},
		{"../outside/evil.pdf", tar.TypeReg, "", "ok.txt"},
		{"/tmp/evil.pdf", tar.TypeReg, "", "ok.txt"},
		{"a/../../outside/evil", tar.TypeReg, "", "ok.txt"},
		{"..\\..\\outside\\evil.pdf", tar.TypeReg, "", "ok.txt"},
		{"docs", tar.TypeSymlink, "../outside", "docs/evil.pdf"},
		{"docs", tar.TypeSymlink, "/tmp", "docs/evil.pdf"},
		{"docs", tar.TypeSymlink, "sub/../..", "docs/evil.pdf"},
		{"hard", tar.TypeLink, "../outside/x", "y"},
		{"dir", tar.TypeDir, "", "dir/file"},
		{"link", tar.TypeSymlink, "inside.txt", "inside.txt"},
		{"dev", tar.TypeChar, "", "ok"},
		{"./././x", tar.TypeReg, "", "x"},
	} {
		f.Add(s.name1, s.type1, s.link1, s.name2, []byte("clinic file"))
	}
	f.Fuzz(func(t *testing.T, name1 string, type1 byte, link1, name2 string, content []byte) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		h1 := &tar.Header{Name: name1, Typeflag: type1, Linkname: link1, Mode: 0o644, Format: tar.FormatPAX}
		if type1 == tar.TypeReg {
			h1.Size = int64(len(content))
		}
		if tw.WriteHeader(h1) != nil {
			return // not representable in a tar at all
		}
		if type1 == tar.TypeReg {
			_, _ = tw.Write(content)
		}
		if tw.WriteHeader(&tar.Header{Name: name2, Typeflag: tar.TypeReg, Size: int64(len(content)), Mode: 0o644, Format: tar.FormatPAX}) != nil {
			return
		}
		_, _ = tw.Write(content)
		_ = tw.Close()

		parent := t.TempDir()
		outside := filepath.Join(parent, "outside")
		require.NoError(t, os.Mkdir(outside, 0o755))
		target := filepath.Join(parent, "restore", "media")
		files, err := backup.ExtractMedia(bytes.NewReader(buf.Bytes()), target)

		require.Empty(t, filesUnder(t, outside), "archive wrote outside the target (names %q, %q, link %q)", name1, name2, link1)
		ents, rerr := os.ReadDir(parent)
		require.NoError(t, rerr)
		require.Len(t, ents, 2, "archive created something beside the target: %v", ents)
		ents, rerr = os.ReadDir(filepath.Join(parent, "restore"))
		require.NoError(t, rerr)
		require.Len(t, ents, 1, "archive created something beside the target: %v", ents)
		if strings.HasPrefix(name1, "/") || strings.Contains(name1, "\\") || slices.Contains(strings.Split(name1, "/"), "..") {
			require.Error(t, err, "unsafe name %q was accepted", name1)
		}
		for _, mf := range files {
			require.True(t, filepath.IsLocal(filepath.FromSlash(mf.Path)), "reported %q", mf.Path)
		}
		if err == nil {
			return
		}
		require.NotEmpty(t, err.Error())
	})
}
