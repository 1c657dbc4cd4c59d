package storage

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"
)

// The real S3-compatible server the tests start: versitygw (an S3 gateway written in Go, fetched from the Go
// module proxy like any dependency) over a POSIX directory, with bucket versioning on. It is built once into
// a cache outside the repository ($PISBACKUP_S3_CACHE, default ~/.cache/pisbackup-s3), or taken from
// $PISBACKUP_S3_SERVER.
const versitygwModule = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

var (
	s3ServerOnce sync.Once
	s3ServerBin  string
	s3ServerErr  error
)

func versitygwBinary() (string, error) {
	s3ServerOnce.Do(func() {
		if p := os.Getenv("PISBACKUP_S3_SERVER"); p != "" {
			s3ServerBin = p
			return
		}
		cache := os.Getenv("PISBACKUP_S3_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				s3ServerErr = err
				return
			}
			cache = filepath.Join(home, ".cache", "pisbackup-s3")
		}
		bin := filepath.Join(cache, "bin", "versitygw")
		if _, err := os.Stat(bin); err == nil {
			s3ServerBin = bin
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "install", versitygwModule)
		cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(cache, "bin"), "GOFLAGS=-mod=mod")
		cmd.Dir = os.TempDir() // outside this module: its go.mod must not change
		if out, err := cmd.CombinedOutput(); err != nil {
			s3ServerErr = fmt.Errorf("go install %s: %v\n%s", versitygwModule, err, out)
			return
		}
		s3ServerBin = bin
	})
	return s3ServerBin, s3ServerErr
}

// freePort picks a free port in 9240-9249 (the range this project's tests may listen on).
func freePort(t *testing.T) int {
	for p := 9240; p <= 9249; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port in 9240-9249")
	return 0
}

var realS3Mu sync.Mutex // one server start at a time: ports are picked then bound by the child

// newRealS3 starts versitygw with a versioned bucket and opens a store on it through production's URL
// parsing. The server and its directories go away when the test ends.
func newRealS3(t *testing.T) *s3Store {
	t.Helper()
	bin, err := versitygwBinary()
	require.NoError(t, err, "the S3-compatible test server could not be built")
	dir := t.TempDir()
	for _, d := range []string{"data", "versions", "meta"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	realS3Mu.Lock()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--access", "test-access-key", "--secret", testSecret, "--port", addr, "--quiet",
		"posix", "--versioning-dir", filepath.Join(dir, "versions"), "--sidecar", filepath.Join(dir, "meta"), filepath.Join(dir, "data"))
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			realS3Mu.Unlock()
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("versitygw did not listen on %s: %s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	realS3Mu.Unlock()
	admin, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("test-access-key", testSecret, ""), Region: "us-east-1"})
	require.NoError(t, err)
	require.NoError(t, admin.MakeBucket(t.Context(), "backups", minio.MakeBucketOptions{Region: "us-east-1"}))
	require.NoError(t, admin.EnableVersioning(t.Context(), "backups"))
	s, err := Open(t.Context(), "s3://backups/clinic?endpoint="+addr+"&region=us-east-1&insecure=true", testEnv)
	require.NoError(t, err)
	return s.(*s3Store)
}

func init() {
	backends = append(backends, backend{
		name: "s3-versioned-versitygw",
		open: func(t *testing.T) Store { return newRealS3(t) },
		plantTemp: func(t *testing.T, s Store, name string) {
			st := s.(*s3Store)
			_, err := st.client.PutObject(t.Context(), st.bucket, st.prefix+tmpDir+"/"+name,
				strings.NewReader("partial"), 7, minio.PutObjectOptions{})
			require.NoError(t, err)
		},
	})
}

// versionsOf lists every version and delete marker under the store's prefix.
func versionsOf(t *testing.T, s *s3Store) []string {
	t.Helper()
	var out []string
	for oi := range s.client.ListObjects(t.Context(), s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true, WithVersions: true}) {
		require.NoError(t, oi.Err)
		out = append(out, fmt.Sprintf("%s@%s marker=%t", oi.Key, oi.VersionID, oi.IsDeleteMarker))
	}
	return out
}

// On a versioned bucket a delete must not leave the backup behind as a noncurrent version, and publishing
// must not leave the temporary's versions: storage would double and "deleted" patient backups persist.
func TestRealS3VersionedBucketKeepsNoVersionsOfDeletedObjects(t *testing.T) {
	t.Parallel()
	s := newRealS3(t)
	require.True(t, s.versioned(t.Context()))
	key := "db/2026/11/30/pis-db-20261130T020000Z-41.dump.zst.age"
	put(t, s, key, []byte("first"))
	require.Equal(t, []string{"clinic/" + key}, keysOf(versionsOf(t, s)), "only the published object; the temporary left no version")
	require.NoError(t, s.Delete(t.Context(), key))
	require.Empty(t, versionsOf(t, s), "no version and no delete marker remain")

	// Overwritten twice, then deleted: every version pisbackup wrote goes.
	put(t, s, key, []byte("one"))
	put(t, s, key, []byte("two"))
	require.NoError(t, s.Delete(t.Context(), key))
	require.Empty(t, versionsOf(t, s))
}

func keysOf(versions []string) []string {
	var out []string
	for _, v := range versions {
		k, _, _ := strings.Cut(v, "@")
		out = append(out, k)
	}
	return out
}

// Every uploaded part carries Content-MD5, so the server can refuse bytes corrupted on the way.
func TestRealS3UploadSendsContentMD5(t *testing.T) {
	t.Parallel()
	s := newRealS3(t)
	rec := &recorder{base: http.DefaultTransport}
	ep := s.client.EndpointURL()
	c, err := minio.New(ep.Host, &minio.Options{Creds: credentials.NewStaticV4("test-access-key", testSecret, ""),
		Region: "us-east-1", Transport: rec})
	require.NoError(t, err)
	s.client = c
	data := make([]byte, s3PartSize+1000) // two parts
	for i := range data {
		data[i] = byte(i * 7)
	}
	put(t, s, "db/big-7.dump.zst.age", data)
	require.Equal(t, data, readAll(t, s, "db/big-7.dump.zst.age"))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.GreaterOrEqual(t, rec.parts, 2)
	require.Equal(t, rec.parts, rec.withMD5, "every part upload carries Content-MD5")
}

type recorder struct {
	base           http.RoundTripper
	mu             sync.Mutex
	parts, withMD5 int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.URL.Query().Has("partNumber") {
		r.mu.Lock()
		r.parts++
		if req.Header.Get("Content-Md5") != "" {
			r.withMD5++
		}
		r.mu.Unlock()
	}
	return r.base.RoundTrip(req)
}

// A published object that is not what was written (changed between the copy and the check) fails the commit
// and is removed, versions included.
func TestRealS3PublishedObjectIsVerified(t *testing.T) {
	t.Parallel()
	s := newRealS3(t)
	key := "db/2026/11/30/pis-db-20261130T020000Z-42.dump.zst.age"
	s.afterCopy = func() {
		_, err := s.client.PutObject(context.Background(), s.bucket, s.prefix+key, strings.NewReader("tampered"), 8, minio.PutObjectOptions{})
		require.NoError(t, err)
	}
	w, err := s.Create(t.Context(), key)
	require.NoError(t, err)
	_, err = w.Write([]byte("the real"))
	require.NoError(t, err)
	err = w.Commit()
	require.ErrorContains(t, err, "MD5")
	_, err = s.Stat(t.Context(), key)
	require.ErrorIs(t, err, ErrNotFound)
	require.Empty(t, versionsOf(t, s))
	s.afterCopy = nil
	put(t, s, key, []byte("the real"))
	require.Equal(t, []byte("the real"), readAll(t, s, key))
}

// An incomplete multipart upload on a final key (a failed or killed server-side copy of an artifact over
// 5 GiB) is aborted by the cleanup once its backup is not running, like the temporaries.
func TestRealS3CleanupAbortsIncompleteUploadsOnFinalKeys(t *testing.T) {
	t.Parallel()
	s := newRealS3(t)
	core := minio.Core{Client: s.client}
	final := s.prefix + "db/2026/11/30/pis-db-20261130T020000Z-43.dump.zst.age"
	running := s.prefix + "db/2026/11/30/pis-db-20261130T020000Z-44.dump.zst.age"
	for _, k := range []string{final, running} {
		_, err := core.NewMultipartUpload(t.Context(), s.bucket, k, minio.PutObjectOptions{})
		require.NoError(t, err)
	}
	owner := func(name string) (owned, alive bool) {
		switch {
		case strings.HasSuffix(name, "-43.dump.zst.age"):
			return true, false // its backup ended (the worker died)
		case strings.HasSuffix(name, "-44.dump.zst.age"):
			return true, true // still running: its copy is in progress
		}
		return false, false
	}
	removed, err := s.CleanupTemp(t.Context(), time.Hour, owner)
	require.NoError(t, err)
	require.Equal(t, []string{"db/2026/11/30/pis-db-20261130T020000Z-43.dump.zst.age (incomplete upload)"}, removed)
	var left []string
	for up := range s.client.ListIncompleteUploads(t.Context(), s.bucket, s.prefix, true) {
		require.NoError(t, up.Err)
		left = append(left, up.Key)
	}
	require.Equal(t, []string{running}, left)
}
