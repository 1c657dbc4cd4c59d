package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CleanupTemp removes files in .tmp/ left behind by writers that died before
// Commit or Abort (see Store.CleanupTemp for which).
func (s *fileStore) CleanupTemp(ctx context.Context, olderThan time.Duration, owner TempOwner) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, tmpDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("storage: cleanup temp: %w", err)
	}
	now := s.now()
	var removed []string
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		st, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished by its writer meanwhile
		} else if err != nil {
			return removed, fmt.Errorf("storage: cleanup temp: %w", err)
		}
		if !owner.abandoned(e.Name(), now.Sub(st.ModTime()), olderThan) {
			continue
		}
		p := filepath.Join(s.root, tmpDir, e.Name())
		if e.IsDir() {
			err = os.RemoveAll(p)
		} else {
			err = os.Remove(p)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("storage: cleanup temp: %w", err)
		}
		removed = append(removed, tmpDir+"/"+e.Name())
	}
	return removed, nil
}

// CheckWritable goes through the same path as a real backup (mkdir .tmp,
// create, write, fsync) so a read-only mount or a full disk is reported
// before a long dump is started, not after.
func (s *fileStore) CheckWritable(ctx context.Context) error {
	err := func() error {
		if err := os.MkdirAll(filepath.Join(s.root, tmpDir), 0o750); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "probe-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if _, err := f.Write([]byte("pisbackup write probe\n")); err != nil {
			return err
		}
		return f.Sync()
	}()
	if err != nil {
		return fmt.Errorf("storage %s is not writable: %w", s, err)
	}
	return nil
}

// Usage sums published files and asks the filesystem for its capacity, so
// operators are warned before retention outgrows the disk.
func (s *fileStore) Usage(ctx context.Context) (Usage, error) {
	infos, err := s.List(ctx, "")
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, in := range infos {
		u.UsedBytes += in.Size
	}
	u.TotalBytes, u.FreeBytes = diskSpace(s.root)
	return u, nil
}
