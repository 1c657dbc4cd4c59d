package backup_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
)

// A file name that is not UTF-8 (Linux allows any bytes) round-trips byte for byte through the stored
// manifest, so archive verification, drill and restore agree with the tar (issue 20: they reported
// "2 difference(s)" because the manifest held U+FFFD where the tar held 0xFF).
func TestMediaNameThatIsNotUTF8RoundTrips(t *testing.T) {
	t.Parallel()
	f := mediaSetup(t)
	ctx := context.Background()
	name := "bad\xffutf8.txt"
	require.NoError(t, os.WriteFile(filepath.Join(f.root, name), []byte("latin-1 era upload"), 0o600))
	res, err := backup.DumpMedia(ctx, backup.MediaOptions{BackupID: 9, Trigger: "cli", Root: f.root, Store: f.store, Keys: f.keys})
	require.NoError(t, err)
	require.Equal(t, "succeeded", res.Status, res.Manifest.Warnings)

	stored, err := backup.GetManifest(ctx, f.store, res.Key) // what verification and restore read
	require.NoError(t, err)
	var found bool
	for _, mf := range stored.Files {
		found = found || mf.Path == name
	}
	require.True(t, found, "the stored manifest keeps the name's bytes")

	p, err := f.artifact(res).Open(ctx)
	require.NoError(t, err)
	ac, err := backup.CheckMediaArchive(p, stored)
	p.Close()
	require.NoError(t, err)
	require.True(t, ac.OK(), ac.Problems)

	p, err = f.artifact(res).Open(ctx)
	require.NoError(t, err)
	dc, err := backup.DrillMedia(p, stored, t.TempDir())
	p.Close()
	require.NoError(t, err)
	require.True(t, dc.OK(), dc.Problems)

	target := filepath.Join(t.TempDir(), "restored")
	check, err := backup.RestoreMedia(ctx, f.artifact(res), stored, target)
	require.NoError(t, err)
	require.True(t, check.OK(), check.Problems)
	got, err := os.ReadFile(filepath.Join(target, name))
	require.NoError(t, err)
	require.Equal(t, "latin-1 era upload", string(got))
}

// A file written to while it is read is backed up at the length seen when it was opened; the backup says so
// instead of ending "succeeded" with a silently truncated copy.
func TestMediaFileChangedDuringBackupWarns(t *testing.T) {
	t.Parallel()
	f := mediaSetup(t)
	ctx := context.Background()
	path := filepath.Join(f.root, "growing.log")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("x"), 32<<20), 0o600))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // appends for as long as the backup runs
		defer close(done)
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer fh.Close()
		for !stop.Load() {
			_, _ = fh.Write([]byte("more\n"))
			time.Sleep(100 * time.Microsecond)
		}
	}()
	res, err := backup.DumpMedia(ctx, backup.MediaOptions{BackupID: 10, Trigger: "cli", Root: f.root, Store: f.store, Keys: f.keys})
	stop.Store(true)
	<-done
	require.NoError(t, err)
	require.Equal(t, "warning", res.Status)
	require.Contains(t, res.Manifest.Changed, "growing.log")
	require.Contains(t, res.Manifest.Warnings[len(res.Manifest.Warnings)-1], "changed during backup (growing.log)")
}
