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
	return RestoreSome(ctx, a, pgRestore, target, nil, progress)
}

// RestoreSome is RestoreInto with extra pg_restore arguments that narrow what is restored (for example
// "--use-list=FILE" with a filtered `pg_restore --list`, or "--data-only"); nil restores everything. The
// artifact is still read whole: pg_restore skips the entries it was told to leave out and may exit before
// the end of its input, after which the rest is read and discarded (damage anywhere still fails).
func RestoreSome(ctx context.Context, a Artifact, pgRestore string, target *dbconn.Settings, extra []string, progress func(int64)) (int64, RestoreProblems, error) {
	p, err := a.open(ctx, progress)
	if err != nil {
		return 0, RestoreProblems{}, err
	}
	defer p.Close()
	if db := target.Database(); strings.Contains(db, "=") || strings.HasPrefix(db, "postgres") && strings.Contains(db, "://") {
		return 0, RestoreProblems{}, fmt.Errorf("database name %q would be read as a connection string by pg_restore", db)
	}
	// --dbname names the database only (no connection string), which pg_restore needs to restore at all.
	args := append([]string{"--no-owner", "--no-tablespaces", "--verbose", "--no-password"}, extra...)
	cmd, cleanup, err := target.Command(ctx, pgRestore, append(args, "--dbname="+target.Database())...)
	if err != nil {
		return 0, RestoreProblems{}, err
	}
	defer cleanup()
	cmd.WaitDelay = StopWithin
	col := newProblemCollector()
	err = feed(ctx, cmd, p, len(extra) > 0, target, col)
	probs := col.finish()
	var exit *exec.ExitError
	if errors.As(err, &exit) && probs.Ignored > 0 && ctx.Err() == nil {
		// pg_restore went through the whole archive and exits 1 after "errors ignored on restore: N": those are
		// the problems. A fatal error (lost connection, unreadable input) prints no such line and stays an error.
		err = nil
	}
	return p.n, probs, err
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
