package storage

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

const (
	// s3PartSize bounds memory to one 16 MiB buffer per upload (minio would
	// otherwise pick ~537 MiB parts for unknown sizes) while still allowing
	// 10,000 parts = ~156 GiB per object.
	s3PartSize = 16 << 20
	// s3MaxCopy is the largest object a single CopyObject may copy; beyond it
	// ComposeObject does a multipart server-side copy.
	s3MaxCopy = 5 << 30
	// cleanupTimeout bounds temp removal that runs even after ctx is cancelled.
	cleanupTimeout = time.Minute
)

var errAborted = errors.New("storage: upload aborted")

// s3Writer pipes Write calls into a PutObject running in its own goroutine, so
// the upload streams with bounded memory and no local staging file.
type s3Writer struct {
	s       *s3Store
	ctx     context.Context
	key     string // as given to Create, for messages
	final   string // object name the key is published at
	tmp     string // object name of the temporary upload
	pw      *io.PipeWriter
	done    chan struct{} // closed when PutObject returns
	put     minio.UploadInfo
	putErr  error
	written int64
	sum     hash.Hash // MD5 of every byte written, to check the published object against
	err     error     // first write error; Commit reports it instead of publishing
	closed  bool
}

func (s *s3Store) Create(ctx context.Context, key string) (Writer, error) {
	final, err := s.object(key)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	w := &s3Writer{s: s, ctx: ctx, key: key, final: final, tmp: s.prefix + tmpDir + "/" + tempName(key), pw: pw,
		done: make(chan struct{}), sum: md5.New()}
	go func() {
		defer close(w.done)
		// Every part carries its Content-MD5, so the server refuses (BadDigest) a part corrupted on the way;
		// TLS alone protects only the hop, not the bytes the server stores.
		w.put, w.putErr = s.client.PutObject(ctx, s.bucket, w.tmp, pr, -1,
			minio.PutObjectOptions{PartSize: s3PartSize, ContentType: "application/octet-stream", SendContentMd5: true})
		// Unblock a Write stuck on the pipe if the upload failed early.
		if w.putErr != nil {
			pr.CloseWithError(w.putErr)
		} else {
			pr.CloseWithError(errAborted)
		}
	}()
	return w, nil
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.pw.Write(p)
	w.sum.Write(p[:n])
	w.written += int64(n)
	if err != nil {
		w.err = fmt.Errorf("storage: write %s: %w", w.key, err)
	}
	return n, w.err
}

func (w *s3Writer) Commit() error {
	if w.closed {
		return errWriterClosed
	}
	if w.err != nil {
		w.discard()
		return w.err
	}
	w.closed = true
	w.pw.Close() // EOF lets PutObject upload the last part and complete
	<-w.done
	err := w.putErr
	if err == nil && w.put.Size != w.written {
		err = fmt.Errorf("uploaded %d bytes, wrote %d", w.put.Size, w.written)
	}
	if err == nil {
		err = w.copyToFinal()
		if err == nil {
			if w.s.afterCopy != nil {
				w.s.afterCopy()
			}
			if err = w.verifyPublished(); err != nil {
				// A published object that is not what was written must not pass for a backup.
				ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
				_ = w.s.removeObject(ctx, w.final)
				cancel()
			}
		}
	}
	if err != nil {
		w.removeTemp()
		return fmt.Errorf("storage: commit %s: %w", w.key, err)
	}
	// The object is published; a leftover temp is harmless and CleanupTemp
	// will catch it, so a failed delete here does not fail the backup.
	w.removeTemp()
	return nil
}

// copyToFinal publishes server-side. S3 cannot rename, and CopyObject stops at
// 5 GiB, so larger objects use ComposeObject (multipart UploadPartCopy), which
// not every S3 clone implements - hence CopyObject whenever it suffices.
func (w *s3Writer) copyToFinal() error {
	dst := minio.CopyDestOptions{Bucket: w.s.bucket, Object: w.final}
	src := minio.CopySrcOptions{Bucket: w.s.bucket, Object: w.tmp}
	var err error
	if w.written <= s3MaxCopy {
		_, err = w.s.client.CopyObject(w.ctx, dst, src)
	} else {
		_, err = w.s.client.ComposeObject(w.ctx, dst, src)
		if err != nil {
			// ComposeObject is a multipart upload on the final key; a failure leaves it behind, outside .tmp/.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
			_ = w.s.abortUploads(ctx, w.final)
			cancel()
		}
	}
	return err
}

// verifyPublished checks the object at the final key against what was written: its size, and its MD5 from
// the ETag when the server reports a plain MD5 (a single-part object, as CopyObject makes on S3); otherwise
// (a multipart ETag "…-N", or a clone that keeps the source's ETag) by reading it back.
func (w *s3Writer) verifyPublished() error {
	want := hex.EncodeToString(w.sum.Sum(nil))
	oi, err := w.s.client.StatObject(w.ctx, w.s.bucket, w.final, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("check the published object: %w", err)
	}
	if oi.Size != w.written {
		return fmt.Errorf("the published object has %d bytes, %d were written", oi.Size, w.written)
	}
	etag := strings.ToLower(strings.Trim(oi.ETag, `"`))
	if len(etag) == 32 && !strings.Contains(etag, "-") && etag == want {
		return nil
	}
	obj, err := w.s.client.GetObject(w.ctx, w.s.bucket, w.final, minio.GetObjectOptions{VersionID: oi.VersionID})
	if err != nil {
		return fmt.Errorf("read back the published object: %w", err)
	}
	defer obj.Close()
	h := md5.New()
	if _, err := io.Copy(h, obj); err != nil {
		return fmt.Errorf("read back the published object: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("the published object's MD5 is %s, the written bytes' is %s", got, want)
	}
	return nil
}

func (w *s3Writer) Abort() error {
	if w.closed {
		return nil
	}
	return w.discard()
}

// discard stops the upload; PutObject aborts its multipart upload on error,
// and any object it managed to complete is removed.
func (w *s3Writer) discard() error {
	w.closed = true
	w.pw.CloseWithError(errAborted)
	<-w.done
	return w.removeTemp()
}

func (w *s3Writer) removeTemp() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
	defer cancel()
	if err := w.s.removeObject(ctx, w.tmp); err != nil {
		return fmt.Errorf("storage: remove temp %s: %w", w.tmp, err)
	}
	return nil
}
