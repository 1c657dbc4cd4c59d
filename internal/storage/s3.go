package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store keeps objects in bucket under prefix on any S3-compatible service.
type s3Store struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or ends in "/"
	redacted string // URL without credentials, for String and errors
	now      func() time.Time

	// afterCopy, when set (tests only), runs between the server-side copy and the check of the published object.
	afterCopy func()

	verMu           sync.Mutex // guards the versioning answer (see versioned)
	verKnown, verOn bool
}

// openS3 builds the client without contacting the server, so a misconfigured
// endpoint is reported by CheckWritable with context rather than at startup.
func openS3(_ context.Context, u *url.URL, getenv func(string) string) (*s3Store, error) {
	if u.User != nil {
		return nil, errors.New("BACKUP_STORAGE: do not put credentials in the s3 URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Host == "" {
		return nil, errors.New("BACKUP_STORAGE: s3 URL needs a bucket, e.g. s3://bucket/prefix")
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("BACKUP_STORAGE: invalid s3 prefix: %w", err)
		}
		prefix += "/"
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" && k != "insecure" {
			// Catches typos such as "endpiont" that would silently hit AWS instead.
			return nil, fmt.Errorf("BACKUP_STORAGE: unknown s3 URL parameter %q (want endpoint, region, insecure)", k)
		}
	}
	endpoint := q.Get("endpoint")
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	insecure := q.Get("insecure")
	if insecure != "" && insecure != "true" && insecure != "false" {
		return nil, fmt.Errorf("BACKUP_STORAGE: s3 insecure=%q must be true or false", insecure)
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, errors.New("BACKUP_STORAGE is s3 but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set")
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(id, secret, getenv("AWS_SESSION_TOKEN")),
		Secure: insecure != "true",
		Region: q.Get("region"),
	})
	if err != nil {
		return nil, fmt.Errorf("BACKUP_STORAGE: s3 client: %w", err)
	}
	red := url.URL{Scheme: "s3", Host: u.Host, Path: "/" + prefix, RawQuery: q.Encode()}
	return &s3Store{client: client, bucket: u.Host, prefix: prefix, redacted: red.String(), now: time.Now}, nil
}

func (s *s3Store) String() string { return s.redacted }

func (s *s3Store) object(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

func (s *s3Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err == nil {
		// GetObject is lazy; Stat forces the request so a missing key fails here, not on Read.
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, fmt.Errorf("storage: open %s: %w", key, err)
	}
	return obj, nil
}

func (s *s3Store) Stat(ctx context.Context, key string) (Info, error) {
	name, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if isNotFound(err) {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	} else if err != nil {
		return Info{}, fmt.Errorf("storage: stat %s: %w", key, err)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.removeObject(ctx, name); err != nil {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

func (s *s3Store) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	var out []Info
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("storage: list %q: %w", prefix, oi.Err)
		}
		key := strings.TrimPrefix(oi.Key, s.prefix)
		if strings.HasPrefix(key, tmpDir+"/") {
			continue
		}
		out = append(out, Info{Key: key, Size: oi.Size, ModTime: oi.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
