package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Listing is what `pg_restore --list` printed for an archive.
type Listing struct {
	Text       string // the TOC as pg_restore prints it
	Entries    int    // TOC entries (non-comment lines)
	PlainBytes int64  // bytes of plaintext read: the whole artifact is decrypted and decompressed
}

// ListArchive decrypts and decompresses the whole artifact and runs `pg_restore --list` on it. Reading to the
// end matters: --list only needs the table of contents, but every age chunk and the zstd checksum must be
// proven too.
func ListArchive(ctx context.Context, a Artifact, pgRestore string) (*Listing, error) {
	p, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	var out strings.Builder
	cmd := exec.CommandContext(ctx, pgRestore, "--list")
	cmd.Stdout = &out
	if err := feed(ctx, cmd, p, true, ""); err != nil {
		return nil, err
	}
	l := &Listing{Text: out.String(), PlainBytes: p.n}
	sc := bufio.NewScanner(strings.NewReader(l.Text))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, ";") {
			l.Entries++
		}
	}
	if l.Entries == 0 {
		return l, errors.New("pg_restore --list found no entries: this is not a pg_dump archive with any content")
	}
	return l, nil
}

// RestoreInto streams the artifact into the existing database at targetURL with
// `pg_restore --no-owner --no-acl --exit-on-error`, reporting plaintext bytes read to progress.
func RestoreInto(ctx context.Context, a Artifact, pgRestore, targetURL string, progress func(int64)) (int64, error) {
	p, err := a.open(ctx, progress)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	dsn, password := splitPassword(targetURL)
	cmd := exec.CommandContext(ctx, pgRestore, "--no-owner", "--no-acl", "--exit-on-error", "--no-password", "--dbname="+dsn)
	if password != "" {
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password) // never on the command line ps shows
	}
	err = feed(ctx, cmd, p, false, targetURL)
	return p.n, err
}

// feed runs cmd with r as its stdin. A read error from r (a damaged artifact) wins over whatever the command
// then says about its short input. With drain, reading continues after the command exits (it may stop early)
// so the whole artifact is still proven.
func feed(ctx context.Context, cmd *exec.Cmd, r io.Reader, drain bool, secretURL string) error {
	stderr := newTail(4096)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	w := &lenientWriter{w: stdin, drain: drain}
	_, copyErr := io.CopyBuffer(w, r, make([]byte, 1<<20))
	_ = stdin.Close()
	waitErr := cmd.Wait()
	var integrity *IntegrityError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(copyErr, &integrity):
		return copyErr
	case copyErr != nil && !errors.Is(copyErr, errStopped):
		return copyErr
	case waitErr != nil:
		msg := RedactText(stderr.String(), secretURL)
		if msg == "" {
			msg = waitErr.Error()
		}
		return fmt.Errorf("pg_restore failed (%v): %s", waitErr, msg)
	case w.err != nil && !drain:
		return fmt.Errorf("pg_restore stopped reading its input: %v", w.err)
	}
	return nil
}

var errStopped = errors.New("consumer exited")

// lenientWriter forwards to w until w fails (the process exited); then it either discards (drain) or stops.
type lenientWriter struct {
	w     io.Writer
	drain bool
	err   error
}

func (l *lenientWriter) Write(b []byte) (int, error) {
	if l.err == nil {
		if _, err := l.w.Write(b); err != nil {
			l.err = err
		}
	}
	if l.err != nil && !l.drain {
		return 0, errStopped
	}
	return len(b), nil
}
