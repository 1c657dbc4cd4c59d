package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
)

func TestOpenErrors(t *testing.T) {
	for _, raw := range []string{
		"",
		"ftp://host/dir",
		"/var/backups", // a bare path is ambiguous; require the scheme
		"file://",
		"s3://",
		"s3:///prefix",
		"s3://bucket/../x",
		"s3://bucket?endpiont=localhost:9000",
		"s3://bucket?insecure=yes",
		"s3://AKIA:" + testSecret + "@bucket/p",
		"s3://bucket/%zz" + testSecret,
	} {
		_, err := Open(t.Context(), raw, testEnv)
		require.Error(t, err, raw)
		require.Contains(t, err.Error(), "BACKUP_STORAGE", raw)
		require.NotContains(t, err.Error(), testSecret, "errors must not leak secrets")
	}
	_, err := Open(t.Context(), "s3://bucket", func(string) string { return "" })
	require.ErrorContains(t, err, "AWS_ACCESS_KEY_ID")
}

func TestOpenFileURLs(t *testing.T) {
	s, err := Open(t.Context(), "file:///abs/dir", testEnv)
	require.NoError(t, err)
	require.Equal(t, "file:///abs/dir", s.String())

	s, err = Open(t.Context(), "file://./var/backups", testEnv)
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(wd, "var", "backups"), s.(*fileStore).root)
}

func TestOpenS3URL(t *testing.T) {
	s, err := Open(t.Context(), "s3://bk/a/b/?endpoint=minio:9000&region=eu&insecure=true", testEnv)
	require.NoError(t, err)
	st := s.(*s3Store)
	require.Equal(t, "bk", st.bucket)
	require.Equal(t, "a/b/", st.prefix)
	require.Equal(t, "s3://bk/a/b/?endpoint=minio%3A9000&insecure=true&region=eu", s.String())
}

func TestCheckWritableFails(t *testing.T) {
	// A regular file where the directory should be defeats mkdir even for root.
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	s, err := Open(t.Context(), "file://"+notDir, testEnv)
	require.NoError(t, err)
	err = s.CheckWritable(t.Context())
	require.ErrorContains(t, err, "storage file://"+notDir+" is not writable")

	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	ro := t.TempDir()
	require.NoError(t, os.Chmod(ro, 0o500))
	t.Cleanup(func() { os.Chmod(ro, 0o700) })
	s, err = Open(t.Context(), "file://"+ro, testEnv)
	require.NoError(t, err)
	require.ErrorContains(t, s.CheckWritable(t.Context()), "permission denied")
}

func TestFileCommitAfterWriteError(t *testing.T) {
	s, err := Open(t.Context(), "file://"+t.TempDir(), testEnv)
	require.NoError(t, err)
	w, err := s.Create(t.Context(), "db/x")
	require.NoError(t, err)
	w.(*fileWriter).f.Close() // simulate the disk vanishing under the writer
	_, err = w.Write([]byte("data"))
	require.ErrorIs(t, err, os.ErrClosed, "the cause stays inspectable (as ENOSPC would)")
	require.ErrorIs(t, w.Commit(), os.ErrClosed)
	_, err = s.Stat(t.Context(), "db/x")
	require.ErrorIs(t, err, ErrNotFound)
	requireNoTemps(t, s)

	u, err := s.Usage(t.Context())
	require.NoError(t, err)
	require.Positive(t, u.TotalBytes)
	require.Positive(t, u.FreeBytes)
}

func TestS3CommitAfterUploadError(t *testing.T) {
	s := newS3(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the upload fails at once; Write must return instead of blocking on the pipe
	w, err := s.Create(ctx, "db/x")
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 1<<20))
	require.ErrorIs(t, err, context.Canceled)
	require.Error(t, err)
	require.Error(t, w.Commit())
	_, err = s.Stat(t.Context(), "db/x")
	require.ErrorIs(t, err, ErrNotFound)
	requireNoTemps(t, s)
}

func TestS3CleanupAbortsStaleUploads(t *testing.T) {
	s := newS3(t)
	core := minio.Core{Client: s.client}
	_, err := core.NewMultipartUpload(t.Context(), s.bucket, s.prefix+".tmp/dead-db_x", minio.PutObjectOptions{})
	require.NoError(t, err)

	removed, err := s.CleanupTemp(t.Context(), time.Hour, nil)
	require.NoError(t, err)
	require.Empty(t, removed)

	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	removed, err = s.CleanupTemp(t.Context(), time.Hour, nil)
	require.NoError(t, err)
	require.Equal(t, []string{".tmp/dead-db_x (incomplete upload)"}, removed)
	for up := range s.client.ListIncompleteUploads(t.Context(), s.bucket, s.prefix, true) {
		require.NoError(t, up.Err)
		require.Failf(t, "upload left behind", "%s", up.Key)
	}
	require.False(t, strings.Contains(s.String(), testSecret))
}
