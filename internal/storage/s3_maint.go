package storage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// CleanupTemp removes temporary objects and incomplete multipart uploads left
// by writers that died mid-upload; the latter are invisible in listings but
// are still billed, so they must be aborted explicitly.
func (s *s3Store) CleanupTemp(ctx context.Context, olderThan time.Duration, owner TempOwner) ([]string, error) {
	tmp := s.prefix + tmpDir + "/"
	now := s.now()
	var removed []string
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: tmp, Recursive: true}) {
		if oi.Err != nil {
			return removed, fmt.Errorf("storage: cleanup temp: %w", oi.Err)
		}
		if !owner.abandoned(strings.TrimPrefix(oi.Key, tmp), now.Sub(oi.LastModified), olderThan) {
			continue
		}
		if err := s.removeObject(ctx, oi.Key); err != nil {
			return removed, fmt.Errorf("storage: cleanup temp %s: %w", oi.Key, err)
		}
		removed = append(removed, strings.TrimPrefix(oi.Key, s.prefix))
	}
	core := minio.Core{Client: s.client}
	// Every incomplete upload under the prefix: a temporary upload, or a server-side copy (ComposeObject) onto
	// a final key that failed or was killed. Final keys are named like their temporaries, so the owner decides
	// for both (a backup still running keeps its copy going); an unrecognised name goes by age.
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err != nil {
			// Some S3 clones (gofakes3) answer NoSuchUpload when a bucket has none.
			if minio.ToErrorResponse(up.Err).Code == "NoSuchUpload" {
				break
			}
			return removed, fmt.Errorf("storage: cleanup temp uploads: %w", up.Err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(up.Key, s.prefix), tmpDir+"/")
		if !owner.abandoned(name, now.Sub(up.Initiated), olderThan) {
			continue
		}
		if err := core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
			return removed, fmt.Errorf("storage: abort upload %s: %w", up.Key, err)
		}
		removed = append(removed, strings.TrimPrefix(up.Key, s.prefix)+" (incomplete upload)")
	}
	return removed, nil
}

// CheckWritable uploads and deletes a probe under .tmp/, proving that the
// bucket exists and the credentials may write and delete there.
func (s *s3Store) CheckWritable(ctx context.Context) error {
	name := s.prefix + tmpDir + "/" + tempName("probe")
	data := []byte("pisbackup write probe\n")
	_, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err == nil {
		err = s.removeObject(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("storage %s is not writable: %w", s, err)
	}
	return nil
}

// Usage only counts objects: S3 has no meaningful capacity or free space.
func (s *s3Store) Usage(ctx context.Context) (Usage, error) {
	infos, err := s.List(ctx, "")
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, in := range infos {
		u.UsedBytes += in.Size
	}
	return u, nil
}

// isNotFound reports S3's "no such key" in its various spellings.
func isNotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound
}
