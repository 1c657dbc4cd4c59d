package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// fileStore keeps objects as plain files under root, so backups on a local
// disk or NFS mount can be inspected and restored with ordinary tools.
type fileStore struct {
	root string           // absolute, so a later chdir cannot redirect writes
	now  func() time.Time // injectable so tests can age temporaries
}

func openFile(dir string) (*fileStore, error) {
	if dir == "" {
		return nil, errors.New("BACKUP_STORAGE: file:// URL needs a directory, e.g. file:///var/backups")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("BACKUP_STORAGE: resolve %q: %w", dir, err)
	}
	return &fileStore{root: abs, now: time.Now}, nil
}

func (s *fileStore) String() string { return "file://" + filepath.ToSlash(s.root) }

// path maps a validated key to its file; ValidateKey guarantees it stays under root.
func (s *fileStore) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func (s *fileStore) Create(_ context.Context, key string) (Writer, error) {
	final, err := s.path(key)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(s.root, tmpDir)
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", key, err)
	}
	f, err := os.OpenFile(filepath.Join(tmp, tempName(key)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", key, err)
	}
	return &fileWriter{store: s, key: key, final: final, f: f}, nil
}

func (s *fileStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	} else if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", key, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, nil
}

func (s *fileStore) Stat(_ context.Context, key string) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	} else if err != nil {
		return Info{}, fmt.Errorf("storage: stat %s: %w", key, err)
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (s *fileStore) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

func (s *fileStore) List(_ context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	// Walk only the prefix's directory: a full walk would touch every backup ever kept.
	start := s.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Info
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == start {
			return fs.SkipAll // nothing written under this prefix yet
		} else if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == tmpDir {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(rel, prefix) {
			return nil
		}
		st, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted concurrently
		} else if err != nil {
			return err
		}
		out = append(out, Info{Key: rel, Size: st.Size(), ModTime: st.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
