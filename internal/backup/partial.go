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

// Partial reads, for record recovery. A recovery is not a verification: it needs the archive's table of
// contents and a few tables' data, not proof that every byte of the artifact decrypts and decompresses (drills
// and checksum verifications prove that). The functions here let pg_restore stop reading as soon as it has
// what it was asked for and do not drain the rest of the artifact, unlike ListArchive and RestoreSome. What
// they do read is still authenticated (each age chunk is checked before any of its plaintext is returned), and
// damage in that part still fails them as an *IntegrityError.

// ListArchiveHead is ListArchive reading only as far as `pg_restore --list` does (the archive's header and
// table of contents); PlainBytes is what was read.
func ListArchiveHead(ctx context.Context, a Artifact, pgRestore string) (*Listing, error) {
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
	if err := feedHead(ctx, cmd, p, nil); err != nil {
		return nil, err
	}
	l := &Listing{Text: out.String(), PlainBytes: p.n}
	sc := bufio.NewScanner(strings.NewReader(l.Text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
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

// RestoreSomeHead is RestoreSome (same arguments, connection handling and problem collection) without
// draining: once pg_restore has restored what extra selects and exited, the rest of the artifact is not read.
func RestoreSomeHead(ctx context.Context, a Artifact, pgRestore string, target *dbconn.Settings, extra []string) (int64, RestoreProblems, error) {
	p, err := a.open(ctx, nil)
	if err != nil {
		return 0, RestoreProblems{}, err
	}
	defer p.Close()
	if db := target.Database(); strings.Contains(db, "=") || strings.HasPrefix(db, "postgres") && strings.Contains(db, "://") {
		return 0, RestoreProblems{}, fmt.Errorf("database name %q would be read as a connection string by pg_restore", db)
	}
	args := append([]string{"--no-owner", "--no-tablespaces", "--verbose", "--no-password"}, extra...)
	cmd, cleanup, err := target.Command(ctx, pgRestore, append(args, "--dbname="+target.Database())...)
	if err != nil {
		return 0, RestoreProblems{}, err
	}
	defer cleanup()
	cmd.WaitDelay = StopWithin
	col := newProblemCollector()
	err = feedHead(ctx, cmd, p, target, col)
	probs := col.finish()
	var exit *exec.ExitError
	if errors.As(err, &exit) && probs.Ignored > 0 && ctx.Err() == nil {
		err = nil // as in RestoreSome: the errors pg_restore ignored are the problems
	}
	return p.n, probs, err
}

// ScriptSome runs `pg_restore --file=- extra…` on the artifact without any database connection and streams
// the SQL script it prints (for "--data-only", COPY blocks) to out, reading the artifact only as far as
// pg_restore does. out sees everything pg_restore printed before ScriptSome returns; an error out returns
// stops pg_restore and is returned.
func ScriptSome(ctx context.Context, a Artifact, pgRestore string, extra []string, out io.Writer) (int64, error) {
	p, err := a.open(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, pgRestore, append([]string{"--file=-"}, extra...)...)
	cmd.WaitDelay = StopWithin
	cmd.Env = dbconn.BaseEnv(os.Environ())
	w := &cancelWriter{w: out, cancel: cancel}
	cmd.Stdout = w
	err = feedHead(ctx, cmd, p, nil)
	if w.err != nil {
		return p.n, w.err
	}
	return p.n, err
}

// cancelWriter forwards to w and, on w's first error, cancels the command (so pg_restore stops rather than
// blocking on a pipe nobody reads) and keeps the error.
type cancelWriter struct {
	w      io.Writer
	cancel func()
	err    error
}

func (c *cancelWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	if err != nil {
		c.err = err
		c.cancel()
	}
	return n, err
}

// feedHead runs cmd with r as its stdin and stops feeding when cmd stops reading (it exited: it had what it
// needed, or failed, which its exit status says). A read error from r (damage in the part read) wins.
func feedHead(ctx context.Context, cmd *exec.Cmd, r io.Reader, target *dbconn.Settings, also ...io.Writer) error {
	stderr := newTail(4096)
	cmd.Stderr = io.MultiWriter(append([]io.Writer{stderr}, also...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	w := &lenientWriter{w: stdin}
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
	}
	return nil
}
