package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
)

// versioned reports whether the bucket keeps object versions (versioning Enabled or Suspended; Backblaze B2
// always keeps them). A server that does not implement the query is taken as unversioned. The answer is
// asked once per store.
func (s *s3Store) versioned(ctx context.Context) bool {
	s.verMu.Lock()
	defer s.verMu.Unlock()
	if s.verKnown {
		return s.verOn
	}
	cfg, err := s.client.GetBucketVersioning(ctx, s.bucket)
	if err != nil {
		if ctx.Err() != nil {
			return false // not known yet; ask again next time
		}
		s.verKnown, s.verOn = true, false
		return false
	}
	s.verKnown, s.verOn = true, cfg.Enabled() || cfg.Suspended()
	return s.verOn
}

// lifecycleHelp is what an operator must set when pisbackup may not delete versions itself.
func (s *s3Store) lifecycleHelp() string {
	return fmt.Sprintf("bucket %s keeps object versions and these credentials may not delete them (s3:DeleteObjectVersion), "+
		"so deleted backups would persist as old versions: allow s3:DeleteObjectVersion, or add a lifecycle rule on prefix %q "+
		"with NoncurrentVersionExpiration NoncurrentDays=1, ExpiredObjectDeleteMarker=true and "+
		"AbortIncompleteMultipartUpload DaysAfterInitiation=1 (Backblaze B2: daysFromHidingToDeleting=1)", s.bucket, s.prefix)
}

// removeObject deletes object name for good: on a versioned bucket every version and delete marker of that
// exact name (all of them pisbackup's, since it owns the prefix), so a deleted backup does not linger as a
// noncurrent version and the storage is not silently doubled; elsewhere the one object. A missing object is
// not an error.
func (s *s3Store) removeObject(ctx context.Context, name string) error {
	if !s.versioned(ctx) {
		if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}
	var versions []minio.ObjectInfo
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: name, WithVersions: true, Recursive: true}) {
		if oi.Err != nil {
			return oi.Err
		}
		if oi.Key == name {
			versions = append(versions, oi)
		}
	}
	for _, v := range versions {
		err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{VersionID: v.VersionID})
		if err != nil && !isNotFound(err) {
			if code := minio.ToErrorResponse(err).Code; code == "AccessDenied" || strings.Contains(code, "NotImplemented") {
				return fmt.Errorf("%w; %s", err, s.lifecycleHelp())
			}
			return err
		}
	}
	return nil
}

// abortUploads aborts every incomplete multipart upload of exactly object name (a failed or killed
// server-side copy onto a final key leaves one, billed and invisible in listings).
func (s *s3Store) abortUploads(ctx context.Context, name string) error {
	core := minio.Core{Client: s.client}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, name, false) {
		if up.Err != nil {
			if minio.ToErrorResponse(up.Err).Code == "NoSuchUpload" {
				return nil
			}
			return up.Err
		}
		if up.Key != name {
			continue
		}
		if err := core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
			return err
		}
	}
	return nil
}
