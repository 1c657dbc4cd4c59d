package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/uscpis/pisbackup/internal/storage"
)

// Artifact is one stored, sealed object and what opening it needs.
type Artifact struct {
	Store      storage.Store
	Key        string
	Encrypted  bool
	Identities []age.Identity
}

// IntegrityError says the stored bytes do not decrypt or decompress: the object is damaged or was sealed to
// another key. It is never worth retrying.
type IntegrityError struct {
	Stage string // "decryption" or "decompression"
	Err   error
}

func (e *IntegrityError) Error() string {
	if e.Stage == "decryption" {
		return fmt.Sprintf("decryption failed: the artifact is damaged or was encrypted to another key (%v)", e.Err)
	}
	return fmt.Sprintf("%s failed: the artifact is damaged (%v)", e.Stage, e.Err)
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// Checksum re-reads the stored object and compares its SHA-256 and size with what the catalog recorded.
func Checksum(ctx context.Context, st storage.Store, key, wantSHA string, wantSize int64) (gotSHA string, gotSize int64, err error) {
	r, err := st.Open(ctx, key)
	if err != nil {
		return "", 0, fmt.Errorf("open stored object: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	gotSize, err = io.CopyBuffer(h, r, make([]byte, 1<<20))
	if err != nil {
		return "", gotSize, fmt.Errorf("read stored object: %w", err)
	}
	gotSHA = hex.EncodeToString(h.Sum(nil))
	switch {
	case gotSize != wantSize:
		return gotSHA, gotSize, fmt.Errorf("size mismatch: stored object is %d bytes, the catalog recorded %d", gotSize, wantSize)
	case gotSHA != wantSHA:
		return gotSHA, gotSize, fmt.Errorf("SHA-256 mismatch: stored object hashes to %s, the catalog recorded %s", gotSHA, wantSHA)
	}
	return gotSHA, gotSize, nil
}

// plain is the decrypted, decompressed stream of an artifact. Its read errors are classified so a damaged
// object is reported as such rather than as whatever the consumer (pg_restore) made of a short input.
type plain struct {
	body   io.Closer
	zr     *zstd.Decoder
	src    *recorder // errors reading storage
	dec    *recorder // errors from age (authentication failures)
	n      int64
	notify func(int64)
}

// Open returns the artifact's plaintext. A wrong key or a damaged header fails here; damage further in
// fails the Read that reaches it, as an *IntegrityError.
func (a Artifact) Open(ctx context.Context) (io.ReadCloser, error) {
	return a.open(ctx, nil)
}

func (a Artifact) open(ctx context.Context, progress func(int64)) (*plain, error) {
	body, err := a.Store.Open(ctx, a.Key)
	if err != nil {
		return nil, fmt.Errorf("open stored object: %w", err)
	}
	p := &plain{body: body, src: &recorder{r: body}, notify: progress}
	var r io.Reader = p.src
	if a.Encrypted {
		if len(a.Identities) == 0 {
			body.Close()
			return nil, errors.New("backup is encrypted but no age identity is configured (BACKUP_AGE_IDENTITY_FILE)")
		}
		dr, err := age.Decrypt(r, a.Identities...)
		if err != nil {
			body.Close()
			if p.src.err != nil {
				return nil, fmt.Errorf("read stored object: %w", p.src.err)
			}
			return nil, &IntegrityError{Stage: "decryption", Err: err}
		}
		p.dec = &recorder{r: dr}
		r = p.dec
	}
	p.zr, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(2))
	if err != nil {
		body.Close()
		return nil, &IntegrityError{Stage: "decompression", Err: err}
	}
	return p, nil
}

func (p *plain) Read(b []byte) (int, error) {
	n, err := p.zr.Read(b)
	p.n += int64(n)
	if p.notify != nil && n > 0 {
		p.notify(p.n)
	}
	if err != nil && err != io.EOF {
		switch {
		case p.src.err != nil:
			err = fmt.Errorf("read stored object: %w", p.src.err)
		case p.dec != nil && p.dec.err != nil:
			err = &IntegrityError{Stage: "decryption", Err: p.dec.err}
		default:
			err = &IntegrityError{Stage: "decompression", Err: err}
		}
	}
	return n, err
}

func (p *plain) Close() error {
	p.zr.Close()
	return p.body.Close()
}

// recorder remembers the first error other than EOF its reader returned.
type recorder struct {
	r   io.Reader
	err error
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
