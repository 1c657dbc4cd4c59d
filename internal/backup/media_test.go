package backup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/storage"
)

type mediaFixture struct {
	root   string
	seeded []string
	store  storage.Store
	keys   *crypt.Keys
}

func mediaSetup(t *testing.T) *mediaFixture {
	t.Helper()
	f := &mediaFixture{root: t.TempDir()}
	var err error
	f.seeded, err = demo.SeedMedia(f.root, 1)
	require.NoError(t, err)
	f.store, err = storage.Open(context.Background(), "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	f.keys, err = crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	return f
}

func (f *mediaFixture) artifact(res *backup.Result) backup.Artifact {
	return backup.Artifact{Store: f.store, Key: res.Key, Encrypted: true, Identities: f.keys.Identities}
}

func TestMediaBackupRestoresByteIdentical(t *testing.T) {
	t.Parallel()
	f := mediaSetup(t)
	ctx := context.Background()
	res, err := backup.DumpMedia(ctx, backup.MediaOptions{BackupID: 7, Trigger: "cli", Root: f.root, Store: f.store, Keys: f.keys})
	require.NoError(t, err)
	require.Equal(t, "succeeded", res.Status)
	require.True(t, strings.HasSuffix(res.Key, ".tar.zst.age"))
	require.Len(t, res.Manifest.Files, len(f.seeded), "every file, clutter included: a backup is faithful")
	stored, err := backup.GetManifest(ctx, f.store, res.Key)
	require.NoError(t, err)
	require.Equal(t, res.Manifest.Files, stored.Files)

	// Nothing readable as a tar sits in storage: the object is age ciphertext.
	r, err := f.store.Open(ctx, res.Key)
	require.NoError(t, err)
	head := make([]byte, 21)
	_, err = io.ReadFull(r, head)
	r.Close()
	require.NoError(t, err)
	require.Equal(t, "age-encryption.org/v1", string(head))

	target := filepath.Join(t.TempDir(), "restored")
	check, err := backup.RestoreMedia(ctx, f.artifact(res), res.Manifest, target)
	require.NoError(t, err)
	require.True(t, check.OK(), check.Problems)
	for _, rel := range f.seeded {
		want, err := os.ReadFile(filepath.Join(f.root, rel))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(target, rel))
		require.NoError(t, err, rel)
		require.True(t, bytes.Equal(want, got), rel)
	}

	// Archive level and drill both pass on the intact artifact, and both notice a manifest that disagrees.
	p, err := f.artifact(res).Open(ctx)
	require.NoError(t, err)
	ac, err := backup.CheckMediaArchive(p, res.Manifest)
	p.Close()
	require.NoError(t, err)
	require.True(t, ac.OK(), ac.Problems)
	require.Equal(t, len(f.seeded), ac.Files)

	lying := *res.Manifest
	lying.Files = append([]backup.MediaFile{}, res.Manifest.Files...)
	lying.Files[3].SHA256 = strings.Repeat("0", 64)
	lying.Files = append(lying.Files, backup.MediaFile{Path: "ghost.pdf", Size: 1})
	p, err = f.artifact(res).Open(ctx)
	require.NoError(t, err)
	dc, err := backup.DrillMedia(p, &lying, t.TempDir())
	p.Close()
	require.NoError(t, err)
	require.Len(t, dc.Problems, 2, dc.Problems)
	p, err = f.artifact(res).Open(ctx)
	require.NoError(t, err)
	ac, err = backup.CheckMediaArchive(p, &lying)
	p.Close()
	require.NoError(t, err)
	require.Equal(t, []string{"ghost.pdf is in the manifest but not in the archive"}, ac.Problems)

	// A restore never writes into a directory that already holds files.
	_, err = backup.RestoreMedia(ctx, f.artifact(res), res.Manifest, target)
	require.ErrorContains(t, err, "not empty")
}

// flaky fails after a few bytes, like a disk error or a dropped download.
type flaky struct{ n int }

func (f *flaky) Read(p []byte) (int, error) {
	if f.n >= 5 {
		return 0, errors.New("input/output error")
	}
	f.n += copy(p, "xxxxx")
	return 5, nil
}

func TestMediaBackupListsUnreadableFilesAndMissingReferences(t *testing.T) {
	t.Parallel()
	f := mediaSetup(t)
	ctx := context.Background()
	remote := func(context.Context) ([]backup.RemoteFile, error) {
		return []backup.RemoteFile{
			{Name: "image/ok.png", Size: 3, Open: func(context.Context) (io.ReadCloser, int64, error) {
				return io.NopCloser(strings.NewReader("png")), 3, nil
			}},
			{Name: "image/broken.png", Size: 100, Open: func(context.Context) (io.ReadCloser, int64, error) {
				return io.NopCloser(&flaky{}), 100, nil
			}},
			{Name: "image/gone.png", Size: 1, Open: func(context.Context) (io.ReadCloser, int64, error) {
				return nil, 0, errors.New("HTTP 404")
			}},
		}, nil
	}
	refs := append([]string{f.seeded[5]}, demo.MissingFiles...)
	res, err := backup.DumpMedia(ctx, backup.MediaOptions{BackupID: 8, Root: f.root, Store: f.store, Keys: f.keys,
		Remote: remote, References: refs})
	require.NoError(t, err)
	require.Equal(t, "warning", res.Status)
	require.Equal(t, []string{"cloudinary/image/broken.png", "cloudinary/image/gone.png"}, res.Manifest.Unreadable)
	require.ElementsMatch(t, demo.MissingFiles, res.Manifest.Missing)
	require.Len(t, res.Manifest.Files, len(f.seeded)+1)

	// The padded entry keeps the archive readable and the archive check accepts it as listed-unreadable.
	p, err := f.artifact(res).Open(ctx)
	require.NoError(t, err)
	defer p.Close()
	c, err := backup.CheckMediaArchive(p, res.Manifest)
	require.NoError(t, err)
	require.True(t, c.OK(), c.Problems)
}

func evilTar(t *testing.T, hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len("payload"))
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte("payload"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func TestExtractRefusesEntriesLeavingTheTarget(t *testing.T) {
	t.Parallel()
	ok := &tar.Header{Name: "docs/a.pdf", Typeflag: tar.TypeReg, Mode: 0o644}
	cases := map[string]*tar.Header{
		"dotdot":        {Name: "../evil.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		"nested dotdot": {Name: "docs/../../evil.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		"absolute":      {Name: "/tmp/evil.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		"symlink out":   {Name: "docs/link", Typeflag: tar.TypeSymlink, Linkname: "../../outside"},
		"symlink abs":   {Name: "docs/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		"hardlink out":  {Name: "docs/hl", Typeflag: tar.TypeLink, Linkname: "../outside"},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "target")
			_, err := backup.ExtractMedia(bytes.NewReader(evilTar(t, ok, bad)), dir)
			require.ErrorIs(t, err, backup.ErrUnsafeEntry)
			ents, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Len(t, ents, 1, "nothing was written beside the target directory")
			_, err = os.Lstat(filepath.Join(dir, "docs", "link"))
			require.True(t, os.IsNotExist(err))
		})
	}
	// Links that stay inside are restored as links.
	dir := filepath.Join(t.TempDir(), "target")
	_, err := backup.ExtractMedia(bytes.NewReader(evilTar(t, ok,
		&tar.Header{Name: "docs/b.pdf", Typeflag: tar.TypeSymlink, Linkname: "a.pdf"})), dir)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "docs", "b.pdf"))
	require.NoError(t, err)
	require.Equal(t, "payload", string(b))
}
