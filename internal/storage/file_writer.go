package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errWriterClosed is returned when a Writer is used after Commit or Abort.
var errWriterClosed = errors.New("storage: writer already committed or aborted")

// fileWriter streams straight into a temporary file, so memory use does not
// grow with the backup size, and renames it into place on Commit.
type fileWriter struct {
	store *fileStore
	key   string
	final string
	f     *os.File
	err   error // first write error; Commit reports it instead of publishing
	done  bool
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		// %w keeps the *PathError chain so callers can detect ENOSPC.
		w.err = fmt.Errorf("storage: write %s: %w", w.key, err)
	}
	return n, w.err
}

func (w *fileWriter) Commit() error {
	if w.done {
		return errWriterClosed
	}
	if w.err != nil {
		w.discard()
		return w.err
	}
	if err := w.publish(); err != nil {
		w.discard()
		return fmt.Errorf("storage: commit %s: %w", w.key, err)
	}
	w.done = true
	return nil
}

// publish makes the data durable before it becomes visible: fsync the file,
// rename it (atomic within one filesystem, and .tmp/ lives under root), then
// fsync the directories so the new entry survives a power cut. A later
// full disk usually surfaces here as ENOSPC from Sync or Close.
func (w *fileWriter) publish() error {
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	dir := filepath.Dir(w.final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), w.final); err != nil {
		return err
	}
	// Sync every level up to root, as MkdirAll may just have created them.
	for d := dir; ; d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			// Commit is failing, so the object must not stay visible.
			_ = os.Remove(w.final)
			return err
		}
		if d == w.store.root || d == filepath.Dir(d) {
			return nil
		}
	}
}

func (w *fileWriter) Abort() error {
	if w.done {
		return nil
	}
	return w.discard()
}

// discard closes and removes the temporary file; the writer is finished afterwards.
func (w *fileWriter) discard() error {
	w.done = true
	_ = w.f.Close() // may already be closed by publish
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("storage: abort %s: %w", w.key, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
