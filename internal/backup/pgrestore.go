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

	"github.com/uscpis/pisbackup/internal/dbconn"
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
	cmd.WaitDelay = StopWithin
	cmd.Env = dbconn.BaseEnv(os.Environ()) // no connection, and none of pisbackup's secrets
	cmd.Stdout = &out
	if err := feed(ctx, cmd, p, true, nil); err != nil {
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

// RestoreInto streams the artifact into the existing database target with
// `pg_restore --no-owner --no-tablespaces --verbose` and reports plaintext bytes read to progress.
//
// pg_restore runs tolerantly, as the stock recipe does (no --exit-on-error): an error in one archive entry
// (a materialized view whose refresh fails, a policy for a role the target server lacks) no longer costs
// every other entry. Each error is returned as a RestoreProblem, classified as data lost or object not
// created; err is reserved for failures of the restore as a whole (damaged artifact, pg_restore not
// starting or exiting non-zero without having reported any error, cancellation). Grants are kept (no
// --no-acl): a grant to a role the target lacks is one "object not created" problem. Tablespaces are not
// restored (--no-tablespaces): every table lands in the target database's default tablespace.
// pg_restore gets the connection through its environment and a 0600 pass file, never its command line.
func RestoreInto(ctx context.Context, a Artifact, pgRestore string, target *dbconn.Settings, progress func(int64)) (int64, RestoreProblems, error) {
	n, probs, _, err := restore(ctx, a, pgRestore, target, nil, progress, false)
	return n, probs, err
}

// RestoreSome is RestoreInto with extra pg_restore arguments that narrow what is restored (for example
// "--use-list=FILE" with a filtered `pg_restore --list`, or "--data-only"); nil restores everything. The
// artifact is still read whole: pg_restore skips the entries it was told to leave out and may exit before
// the end of its input, after which the rest is read and discarded (damage anywhere still fails).
func RestoreSome(ctx context.Context, a Artifact, pgRestore string, target *dbconn.Settings, extra []string, progress func(int64)) (int64, RestoreProblems, error) {
	n, probs, _, err := restore(ctx, a, pgRestore, target, extra, progress, false)
	return n, probs, err
}

// RestoreAndDigest is RestoreInto that also reads the archive's rows as it restores them: the same plaintext
// goes to a second `pg_restore --data-only --file=-` (no connection, none of pisbackup's secrets), whose COPY
// blocks ReadArchiveContent digests. The archive is read once. A failure of the digest side fails the call:
// a content check that covered less than the archive must not pass.
func RestoreAndDigest(ctx context.Context, a Artifact, pgRestore string, target *dbconn.Settings, progress func(int64)) (int64, RestoreProblems, *ArchiveContent, error) {
	return restore(ctx, a, pgRestore, target, nil, progress, true)
}

func restore(ctx context.Context, a Artifact, pgRestore string, target *dbconn.Settings, extra []string, progress func(int64), digest bool) (int64, RestoreProblems, *ArchiveContent, error) {
	p, err := a.open(ctx, progress)
	if err != nil {
		return 0, RestoreProblems{}, nil, err
	}
	defer p.Close()
	var in io.Reader = p
	var content func() (*ArchiveContent, error)
	if digest {
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		tee, wait, err := digestArchive(dctx, pgRestore)
		if err != nil {
			return 0, RestoreProblems{}, nil, err
		}
		in, content = io.TeeReader(p, tee), func() (*ArchiveContent, error) { _ = tee.Close(); return wait() }
		defer func() {
			if content != nil {
				cancel()
				_ = tee.Close()
				_, _ = wait()
			}
		}()
	}
	if db := target.Database(); strings.Contains(db, "=") || strings.HasPrefix(db, "postgres") && strings.Contains(db, "://") {
		return 0, RestoreProblems{}, nil, fmt.Errorf("database name %q would be read as a connection string by pg_restore", db)
	}
	// --dbname names the database only (no connection string), which pg_restore needs to restore at all.
	args := append([]string{"--no-owner", "--no-tablespaces", "--verbose", "--no-password"}, extra...)
	cmd, cleanup, err := target.Command(ctx, pgRestore, append(args, "--dbname="+target.Database())...)
	if err != nil {
		return 0, RestoreProblems{}, nil, err
	}
	defer cleanup()
	cmd.WaitDelay = StopWithin
	col := newProblemCollector()
	// With a digest, the input is read to its end even if pg_restore stops early, so the digest sees it all.
	err = feed(ctx, cmd, in, len(extra) > 0 || digest, target, col)
	probs := col.finish()
	var exit *exec.ExitError
	if errors.As(err, &exit) && probs.Ignored > 0 && ctx.Err() == nil {
		// pg_restore went through the whole archive and exits 1 after "errors ignored on restore: N": those are
		// the problems. A fatal error (lost connection, unreadable input) prints no such line and stays an error.
		err = nil
	}
	if err != nil || content == nil {
		return p.n, probs, nil, err
	}
	ac, cerr := content()
	content = nil
	if cerr != nil && ctx.Err() != nil {
		return p.n, probs, nil, ctx.Err() // cancelled or out of time, not the reader's fault
	}
	if cerr != nil {
		return p.n, probs, nil, fmt.Errorf("read the archive's rows for the content check: %w", cerr)
	}
	return p.n, probs, ac, nil
}

// digestArchive starts `pg_restore --data-only --file=-` reading what is written to w and digesting its output;
// wait (after w is closed) returns the digests.
func digestArchive(ctx context.Context, pgRestore string) (w io.WriteCloser, wait func() (*ArchiveContent, error), err error) {
	cmd := exec.CommandContext(ctx, pgRestore, "--data-only", "--file=-")
	cmd.WaitDelay = StopWithin
	cmd.Env = dbconn.BaseEnv(os.Environ()) // no connection, and none of pisbackup's secrets
	stderr := newTail(4096)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", pgRestore, err)
	}
	type result struct {
		ac  *ArchiveContent
		err error
	}
	done := make(chan result, 1)
	go func() {
		ac, err := ReadArchiveContent(stdout)
		_, _ = io.Copy(io.Discard, stdout)
		done <- result{ac, err}
	}()
	lw := &lenientWriter{w: stdin, drain: true}
	var once bool
	var res result
	wait = func() (*ArchiveContent, error) {
		if once {
			return res.ac, res.err
		}
		once = true
		res = <-done
		werr := cmd.Wait()
		switch {
		case res.err != nil:
		case werr != nil:
			msg := stderr.String()
			if msg == "" {
				msg = werr.Error()
			}
			res.err = fmt.Errorf("pg_restore --data-only --file=- failed (%w): %s", werr, msg)
		case lw.err != nil:
			res.err = fmt.Errorf("pg_restore --data-only --file=- stopped reading its input: %v", lw.err)
		}
		return res.ac, res.err
	}
	return &closingWriter{lenientWriter: lw, close: stdin.Close}, wait, nil
}

// closingWriter is a lenientWriter whose Close closes the process's stdin once.
type closingWriter struct {
	*lenientWriter
	close  func() error
	closed bool
}

func (c *closingWriter) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.close()
}

// feed runs cmd with r as its stdin. A read error from r (a damaged artifact) wins over whatever the command
// then says about its short input. With drain, reading continues after the command exits (it may stop early)
// so the whole artifact is still proven.
func feed(ctx context.Context, cmd *exec.Cmd, r io.Reader, drain bool, target *dbconn.Settings, also ...io.Writer) error {
	stderr := newTail(4096)
	cmd.Stderr = io.MultiWriter(append([]io.Writer{stderr}, also...)...)
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
		msg := stderr.String()
		if target != nil {
			msg = target.Scrub(msg)
		}
		if msg == "" {
			msg = waitErr.Error()
		}
		return fmt.Errorf("pg_restore failed (%w): %s", waitErr, msg)
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
