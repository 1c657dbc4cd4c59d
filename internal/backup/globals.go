package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/uscpis/pisbackup/internal/storage"
)

// maxGlobalsBytes bounds what pg_dumpall --globals-only may print: roles and tablespaces of one cluster are a
// few kilobytes; more is refused rather than held in memory. A variable only so a test can lower it.
var maxGlobalsBytes int64 = 16 << 20

// dumpGlobals stores the source cluster's global objects beside the backup (storage.GlobalsKey), sealed to the
// same recipients: `pg_dumpall --globals-only --no-role-passwords --database=DB`, the pg_dumpall installed
// next to the chosen pg_dump (same version). --no-role-passwords reads pg_roles instead of pg_authid, so a
// non-superuser backup role can run it (PostgreSQL docs, pg_dumpall); the SQL holds no password hashes.
// Roles are global: no database dump contains them, and a restore on another server needs them for its grants,
// policies and memberships. Where the source does not allow it (a managed host hiding other roles, say) the
// error is returned for the manifest's globals_error; the backup itself is still good.
func dumpGlobals(ctx context.Context, o DumpOptions, pgDump, database, artifactKey string, m *Manifest) error {
	pgDumpall := filepath.Join(filepath.Dir(pgDump), "pg_dumpall")
	cmd, cleanup, err := o.Source.Command(ctx, pgDumpall, "--globals-only", "--no-role-passwords", "--no-password", "--database="+database)
	if err != nil {
		return err
	}
	defer cleanup()
	cmd.WaitDelay = StopWithin
	var out bytes.Buffer
	stderr := newTail(2048)
	lw := &limitedWriter{w: &out, left: maxGlobalsBytes}
	cmd.Stdout, cmd.Stderr = lw, stderr
	if err := cmd.Run(); err != nil || lw.over {
		if lw.over { // the cut-off output made pg_dumpall fail ("broken pipe"): the bound is the reason
			return fmt.Errorf("pg_dumpall --globals-only: %s", lw.err())
		}
		msg := strings.TrimSpace(o.Source.Scrub(stderr.String()))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("pg_dumpall --globals-only: %s", msg)
	}
	key := storage.GlobalsKey(artifactKey)
	w, err := o.Store.Create(ctx, key)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	sealer, err := NewSealer(w, keysRecipients(o.Keys))
	if err == nil {
		_, err = io.Copy(sealer, &out)
	}
	if err == nil {
		err = sealer.Close()
	}
	if err == nil {
		err = w.Commit()
	} else {
		_ = w.Abort()
	}
	if err != nil {
		return fmt.Errorf("store global objects: %w", err)
	}
	m.GlobalsKey, m.GlobalsSHA256, m.GlobalsBytes = key, sealer.SHA256(), sealer.StoredBytes()
	return nil
}

// limitedWriter fails (and says so in over) once more than left bytes were written.
type limitedWriter struct {
	w    io.Writer
	left int64
	over bool
}

func (l *limitedWriter) err() error {
	return fmt.Errorf("more than %d bytes of global objects (a cluster's roles and tablespaces are a few KiB); not stored", maxGlobalsBytes)
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		l.over = true
		return 0, l.err()
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// ReadGlobals returns the global-objects SQL stored beside a database backup (see dumpGlobals), after checking
// the stored object against the manifest's SHA-256 and size: nothing a file says about itself is trusted. A
// manifest without globals is an error saying why (globals_error, or a backup older than the feature).
func ReadGlobals(ctx context.Context, st storage.Store, m *Manifest, a Artifact) ([]byte, error) {
	if m.GlobalsKey == "" {
		why := m.GlobalsError
		if why == "" {
			why = "it was taken before pisbackup stored global objects, or was uploaded"
		}
		return nil, fmt.Errorf("backup #%d holds no global objects: %s", m.BackupID, why)
	}
	if _, _, err := Checksum(ctx, st, m.GlobalsKey, m.GlobalsSHA256, m.GlobalsBytes); err != nil {
		return nil, fmt.Errorf("global objects %s: %w", m.GlobalsKey, err)
	}
	a.Store, a.Key = st, m.GlobalsKey
	r, err := a.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxGlobalsBytes+1))
}
