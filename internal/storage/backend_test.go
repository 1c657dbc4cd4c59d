package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
)

const testSecret = "test-secret-key-do-not-log"

func testEnv(k string) string {
	return map[string]string{"AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": testSecret}[k]
}

// backend lets one behaviour table run against every Store implementation.
type backend struct {
	name string
	open func(t *testing.T) Store
	// plantTemp leaves a temporary object behind, as a writer killed mid-backup would.
	plantTemp func(t *testing.T, s Store, name string)
}

var backends = []backend{
	{
		name: "file",
		open: func(t *testing.T) Store {
			s, err := Open(t.Context(), "file://"+t.TempDir(), testEnv)
			require.NoError(t, err)
			return s
		},
		plantTemp: func(t *testing.T, s Store, name string) {
			dir := filepath.Join(s.(*fileStore).root, tmpDir)
			require.NoError(t, os.MkdirAll(dir, 0o750))
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600))
		},
	},
	{
		name: "s3",
		open: func(t *testing.T) Store { return newS3(t) },
		plantTemp: func(t *testing.T, s Store, name string) {
			st := s.(*s3Store)
			_, err := st.client.PutObject(t.Context(), st.bucket, st.prefix+tmpDir+"/"+name,
				strings.NewReader("partial"), 7, minio.PutObjectOptions{})
			require.NoError(t, err)
		},
	},
}

// newS3 starts an in-process fake S3 with an empty bucket and opens a store
// on it through the same URL parsing production uses.
func newS3(t *testing.T) *s3Store {
	mem := s3mem.New()
	srv := httptest.NewServer(decodeChunkedParts(gofakes3.New(mem).Server()))
	t.Cleanup(srv.Close)
	require.NoError(t, mem.CreateBucket("backups"))
	u := "s3://backups/clinic?endpoint=" + strings.TrimPrefix(srv.URL, "http://") + "&region=us-east-1&insecure=true"
	s, err := Open(t.Context(), u, testEnv)
	require.NoError(t, err)
	return s.(*s3Store)
}

// decodeChunkedParts strips aws-chunked framing from UploadPart bodies before
// gofakes3 sees them. Over plain HTTP minio-go signs payloads in streaming
// mode, which real S3 decodes everywhere but gofakes3 only for single PUTs;
// without this every multipart part would be stored with its chunk headers.
func decodeChunkedParts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !r.URL.Query().Has("uploadId") ||
			!strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
			next.ServeHTTP(w, r)
			return
		}
		var body bytes.Buffer
		br := bufio.NewReader(r.Body)
		for {
			var size int64
			if _, err := fmt.Fscanf(br, "%x;", &size); err != nil {
				http.Error(w, "bad chunk header: "+err.Error(), http.StatusBadRequest)
				return
			}
			if _, err := br.ReadString('\n'); err != nil { // rest of "chunk-signature=...\r\n"
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if size == 0 {
				break
			}
			if _, err := io.CopyN(&body, br, size); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			_, _ = br.Discard(2) // "\r\n" after the data
		}
		r.Body = io.NopCloser(&body)
		r.ContentLength = int64(body.Len())
		r.Header.Set("Content-Length", fmt.Sprint(body.Len()))
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		next.ServeHTTP(w, r)
	})
}

// setNow moves a store's clock so temporaries can be aged without sleeping.
func setNow(s Store, now func() time.Time) {
	switch s := s.(type) {
	case *fileStore:
		s.now = now
	case *s3Store:
		s.now = now
	}
}

func put(t *testing.T, s Store, key string, data []byte) {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Commit())
}

// requireNoTemps checks nothing is left in .tmp/: CleanupTemp(0) removes every
// temporary, so it returning nothing means there was nothing.
func requireNoTemps(t *testing.T, s Store) {
	t.Helper()
	removed, err := s.CleanupTemp(t.Context(), 0, nil)
	require.NoError(t, err)
	require.Empty(t, removed)
}

func TestBackends(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range behaviourTests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, b, b.open(t)) })
			}
		})
	}
}

func readAll(t *testing.T, s Store, key string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	require.NoError(t, err)
	defer r.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r)
	require.NoError(t, err)
	return buf.Bytes()
}
