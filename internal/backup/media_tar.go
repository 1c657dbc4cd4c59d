package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

type localFile struct {
	rel  string // slash-separated, relative to the media root
	size int64
}

// walkMedia lists the regular files under root in a stable order. Symlinks, devices and the like are returned
// separately so the manifest can say they were left out instead of silently dropping them. Directories that
// cannot be read are reported as unreadable by the tar step (their path is kept with size -1).
func walkMedia(root string) (files []localFile, skipped []string, err error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, nil, fmt.Errorf("MEDIA_ROOT %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("MEDIA_ROOT %s is not a directory", root)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, werr error) error {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if werr != nil {
			if p == root {
				return werr
			}
			files = append(files, localFile{rel: rel, size: -1})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			skipped = append(skipped, rel)
			return nil
		}
		info, ierr := d.Info()
		if ierr != nil {
			files = append(files, localFile{rel: rel, size: -1})
			return nil
		}
		files = append(files, localFile{rel: rel, size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk MEDIA_ROOT: %w", err)
	}
	return files, skipped, nil
}

// tarStream writes entries and keeps the byte counts for progress and the manifest.
type tarStream struct {
	tw          *tar.Writer
	now         time.Time
	done, total int64
	written     int64
}

// addLocal tars one file of the media root. A file that cannot be opened is listed as unreadable; a file that
// fails or shrinks mid-read has its entry padded (the tar must stay well-formed) and is listed unreadable too.
func (t *tarStream) addLocal(root string, f localFile, m *Manifest) error {
	if f.size < 0 {
		m.Unreadable = append(m.Unreadable, f.rel)
		return nil
	}
	fh, err := os.Open(filepath.Join(root, filepath.FromSlash(f.rel)))
	if err != nil {
		m.Unreadable = append(m.Unreadable, f.rel)
		return nil
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		m.Unreadable = append(m.Unreadable, f.rel)
		return nil
	}
	t.total += st.Size() - f.size
	if err := t.entry(f.rel, st.Size(), st.ModTime(), fh, m); err != nil {
		return err
	}
	// The entry holds exactly the size seen at open; a file written meanwhile (it grew, shrank or was
	// rewritten in place) is in the backup as some mix of old and new, so say so instead of trusting it.
	if after, err := fh.Stat(); err == nil && (after.Size() != st.Size() || !after.ModTime().Equal(st.ModTime())) {
		m.Changed = append(m.Changed, f.rel)
	}
	return nil
}

// addRemote downloads one remote original straight into the tar.
func (t *tarStream) addRemote(ctx context.Context, r RemoteFile, m *Manifest) error {
	name := RemotePrefix + r.Name
	body, size, err := r.Open(ctx)
	if err != nil {
		m.Unreadable = append(m.Unreadable, name)
		return nil
	}
	defer body.Close()
	t.total += size - r.Size
	return t.entry(name, size, t.now, body, m)
}

// entry writes a header and exactly size bytes of r, hashing them. Only write errors (storage, compression)
// are returned: they end the backup. Read errors make the file unreadable.
func (t *tarStream) entry(name string, size int64, mod time.Time, r io.Reader, m *Manifest) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mod.UTC(), Typeflag: tar.TypeReg,
		Format: tar.FormatPAX}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.CopyN(t.tw, io.TeeReader(&readOnly{r}, h), size)
	t.done += n
	t.written += n
	if err != nil {
		var rerr *readError
		if !errors.As(err, &rerr) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("write backup: %w", err)
		}
		// Pad the entry so the archive stays readable; the file is reported, not trusted.
		if _, perr := io.CopyN(t.tw, zeroReader{}, size-n); perr != nil {
			return fmt.Errorf("write backup: %w", perr)
		}
		t.written += size - n
		m.Unreadable = append(m.Unreadable, name)
		return nil
	}
	m.Files = append(m.Files, MediaFile{Path: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// readOnly marks errors coming from the source so entry can tell them from write errors.
type readOnly struct{ r io.Reader }

type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

func (r *readOnly) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func sortStrings(s []string) { slices.Sort(s) }
