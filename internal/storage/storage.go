// Package storage is where pisbackup keeps its encrypted backup artifacts.
//
// A store is chosen by the BACKUP_STORAGE URL: file://DIR for a local or
// mounted directory, or s3://bucket/prefix for any S3-compatible service.
// Both backends publish objects atomically: a Writer streams into a temporary
// object under ".tmp/" and only Commit makes it visible at its key, so a crash
// mid-backup never leaves a truncated artifact that looks complete.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) by Stat and Open when a key does not exist.
var ErrNotFound = errors.New("storage: object not found")

// Store is a place backup artifacts are written to and read from.
// Keys are slash-separated relative paths accepted by ValidateKey.
type Store interface {
	// Create starts writing key; nothing is visible at key until Commit succeeds.
	// Data goes to a temporary object under ".tmp/" that CleanupTemp can find
	// if the process dies before Commit or Abort.
	Create(ctx context.Context, key string) (Writer, error)
	// Open reads a published object; ErrNotFound if it is missing.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes a published object; ErrNotFound if it is missing.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes a published object; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns published objects whose key starts with prefix, excluding
	// temporary objects, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// CleanupTemp removes temporary objects (and, for S3, incomplete multipart
	// uploads) whose writer is gone, and returns the names it removed. owner,
	// when not nil, is asked about each object's name (the base name under
	// .tmp/, which ends with the flattened key being written): an owned object
	// is removed exactly when its owner is not alive, whatever its age; an
	// object nobody owns (or every object, with a nil owner) is removed once it
	// was not modified for olderThan.
	CleanupTemp(ctx context.Context, olderThan time.Duration, owner TempOwner) ([]string, error)
	// CheckWritable creates and deletes a probe temporary object.
	CheckWritable(ctx context.Context) error
	// Usage reports bytes used by published objects and, where known,
	// the capacity of the underlying filesystem (0 when unknown).
	Usage(ctx context.Context) (Usage, error)
	// String is the store URL with any credentials removed, safe to log.
	String() string
}

// TempOwner says whether a temporary object belongs to known work (owned)
// and whether that work is still running (alive). See Store.CleanupTemp.
type TempOwner func(name string) (owned, alive bool)

// abandoned applies CleanupTemp's rule to one temporary object.
func (o TempOwner) abandoned(name string, age, olderThan time.Duration) bool {
	if o != nil {
		if owned, alive := o(name); owned {
			return !alive
		}
	}
	return age >= olderThan
}

// Writer streams one object. Callers must finish with Commit or Abort.
// A Writer is not safe for concurrent use.
type Writer interface {
	io.Writer
	// Commit publishes the object at its key. After a failed Write, Commit
	// returns that error and removes the temporary object.
	Commit() error
	// Abort discards the temporary object; it is a no-op after Commit.
	Abort() error
}

// Info describes a published object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Usage is a store's space accounting; zero fields mean unknown.
type Usage struct {
	UsedBytes, TotalBytes, FreeBytes int64
}

// tmpDir is the key-space prefix for in-flight objects; ValidateKey rejects it
// so a published key can never collide with a temporary one.
const tmpDir = ".tmp"

// Open parses a BACKUP_STORAGE URL and returns the store it names.
// getenv supplies S3 credentials so tests and callers control the environment.
func Open(ctx context.Context, rawURL string, getenv func(string) string) (Store, error) {
	switch {
	case strings.HasPrefix(rawURL, "file://"):
		return openFile(strings.TrimPrefix(rawURL, "file://"))
	case strings.HasPrefix(rawURL, "s3://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			// url.Error echoes the input, which may hold a secret; keep only the cause.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("BACKUP_STORAGE: invalid s3 URL: %w", err)
		}
		return openS3(ctx, u, getenv)
	case rawURL == "":
		return nil, errors.New("BACKUP_STORAGE is empty: want file://DIR or s3://bucket/prefix")
	default:
		scheme, _, _ := strings.Cut(rawURL, ":")
		if len(scheme) > 16 || strings.ContainsAny(scheme, "/@") {
			scheme = "?" // do not echo arbitrary input that may hold a secret
		}
		return nil, fmt.Errorf("BACKUP_STORAGE: unsupported scheme %q: want file://DIR or s3://bucket/prefix", scheme)
	}
}
