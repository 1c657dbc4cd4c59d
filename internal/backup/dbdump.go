package backup

import (
	"context"
	"errors"

	"fmt"
	"io"
	"maps"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/storage"
)

// DumpOptions describe one database backup.
type DumpOptions struct {
	BackupID int64
	ParentID int64 // the full backup this dump is part of, if any
	Trigger  string
	// Source is the clinic database; pg_dump gets it through its environment, never its command line.
	Source *dbconn.Settings
	// Clients picks pg_dump for the source's server version once the snapshot says what it is.
	Clients pgclient.Finder
	Store   storage.Store
	Keys    *crypt.Keys // nil means the explicit unencrypted opt-out
	// Progress is called with plaintext bytes read so far and the estimated total; the caller throttles writes.
	Progress func(done, total int64)
	// Waiting, when set, is told what pg_dump waits for ("a lock on public.patients_patient") while it waits,
	// and "" once it no longer does (checked every LockCheckEvery).
	Waiting func(what string)
	Now     func() time.Time
	// AllDigests (BACKUP_CONTENT_DIGESTS=true) also digests every table in the dump's snapshot, a second scan of
	// every table that costs the backup about 1.5× its wall time (make bench). Without it only tables with
	// stored generated columns are digested there: drills compare every other table's rows with the archive
	// itself (RestoreAndDigest), which the backup pays nothing for.
	AllDigests bool
}

// LockCheckEvery is how often a running dump checks whether pg_dump waits on a lock.
const LockCheckEvery = 2 * time.Second

// Result is what a finished dump produced.
type Result struct {
	Key      string
	Manifest *Manifest
	Status   string // "succeeded" or "warning"
}

// DumpDatabase runs the newest installed pg_dump that can dump the source's server version (pgclient) with
// --format=custom --compress=0 in the source's exported snapshot and streams it
// through zstd and age into a temporary object, which is committed only after pg_dump exited 0 and every
// writer closed. On any error the temporary object is removed and nothing is published.
func DumpDatabase(ctx context.Context, o DumpOptions) (*Result, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	started := now().UTC()
	if o.Keys != nil && len(o.Keys.Recipients) == 0 {
		o.Keys = nil // identities only (kept for restoring old backups): this run is the unencrypted opt-out
	}
	snap, err := OpenSnapshot(ctx, o.Source)
	if err != nil {
		return nil, err
	}
	defer snap.Close(ctx)
	pgDump, err := o.Clients.For(ctx, "pg_dump", snap.ServerVersion)
	if err != nil {
		return nil, err
	}

	key := storage.BackupKey("database", started, o.BackupID, "dump.zst.age")
	m := &Manifest{FormatVersion: FormatVersion, Tool: "pisbackup", BackupID: o.BackupID, ParentID: o.ParentID, Kind: "database",
		Trigger: o.Trigger, Format: FormatDatabase, ArtifactKey: key, StartedAt: started, Compression: "zstd",
		PgDumpVersion: pgDump.Version, PgDumpPath: pgDump.Path, ServerVersion: snap.ServerVersion, Database: snap.Database,
		Source: o.Source.String()}
	if o.Keys != nil {
		m.Encrypted, m.Recipients, m.RecipientsFingerprint = true, o.Keys.Public, o.Keys.Fingerprint()
	} else {
		m.Format = "pg_dump-custom+zstd"
		m.Warnings = append(m.Warnings, "backup is NOT encrypted (BACKUP_UNENCRYPTED=true)")
	}
	m.Restore = restoreHint("database", m.Encrypted)

	w, err := o.Store.Create(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	sealed, err := runDump(ctx, o, pgDump.Path, snap, w, m)
	if err != nil {
		_ = w.Abort()
		return nil, err
	}
	if err := w.Commit(); err != nil {
		return nil, fmt.Errorf("publish %s: %w", key, err)
	}
	m.FinishedAt, m.StoredBytes, m.SHA256 = now().UTC(), sealed.StoredBytes(), sealed.SHA256()
	if err := dumpGlobals(ctx, o, pgDump.Path, snap.Database, key, m); err != nil {
		if ctx.Err() != nil {
			_ = o.Store.Delete(context.WithoutCancel(ctx), key)
			return nil, ctx.Err()
		}
		m.GlobalsError = err.Error()
	}
	if err := PutManifest(ctx, o.Store, key, m); err != nil {
		// The artifact is valid but undescribed; remove it so storage never holds a half backup.
		_ = o.Store.Delete(context.WithoutCancel(ctx), key)
		_ = o.Store.Delete(context.WithoutCancel(ctx), storage.GlobalsKey(key))
		return nil, err
	}
	status := "succeeded"
	if len(m.Warnings) > 0 {
		status = "warning"
	}
	return &Result{Key: key, Manifest: m, Status: status}, nil
}

// runDump streams pg_dump into w while counting rows in the same snapshot, and returns the closed sealer.
func runDump(ctx context.Context, o DumpOptions, pgDump string, snap *Snapshot, w io.Writer, m *Manifest) (*Sealer, error) {
	sealer, err := NewSealer(w, keysRecipients(o.Keys))
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The connection, password included, travels in the environment and a 0600 pass file: the command line
	// is readable by every local user (ps, /proc/PID/cmdline).
	// Fixed output settings (after the connection's own options, so they win): the archive's row text is then
	// the same on any server a drill reads it back from (DumpOutputSettings).
	cmd, cleanup, err := o.Source.WithParams(DumpOutputSettings).Command(dctx, pgDump, "--format=custom", "--compress=0", "--no-password",
		"--snapshot="+snap.ID)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	cmd.WaitDelay = StopWithin
	// Named so its lock waits can be found in pg_stat_activity (watchLockWaits); the last PGAPPNAME wins.
	appName := fmt.Sprintf("pisbackup_backup_%d", o.BackupID)
	cmd.Env = append(cmd.Env, "PGAPPNAME="+appName)
	stderr := newTail(4096)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pg_dump: %w", err)
	}
	wctx, stopWatch := context.WithCancel(dctx)
	watched := make(chan struct{})
	go func() { defer close(watched); watchLockWaits(wctx, o.Source, appName, LockCheckEvery, o.Waiting) }()
	defer func() { stopWatch(); <-watched }()

	var g errgroup.Group
	g.Go(func() error { // counting runs beside the dump; it shares the snapshot, not the connection pg_dump uses
		props, roles, spaces, err := snap.Properties(dctx)
		if err != nil {
			return err
		}
		m.Properties, m.Roles, m.Tablespaces = props, roles, spaces
		var monetary string
		if err := snap.tx.QueryRow(dctx, "SELECT current_setting('lc_monetary')").Scan(&monetary); err != nil {
			return fmt.Errorf("read lc_monetary: %w", err)
		}
		m.DumpSettings = maps.Clone(DumpOutputSettings)
		m.DumpSettings["lc_monetary"] = monetary
		tables, err := snap.CountRows(dctx, o.AllDigests)
		m.Tables = tables
		if err == nil {
			m.Sequences, err = SequenceValues(dctx, snap.tx)
		}
		if err == nil {
			m.Inventory, err = ReadInventory(dctx, snap.tx, true)
		}
		return err
	})
	pr := &progressReader{r: newCoalescingReader(stdout), total: snap.SizeBytes, fn: o.Progress}
	n, copyErr := io.CopyBuffer(sealer, pr, make([]byte, 1<<20))
	if copyErr != nil {
		cancel() // a storage or compression error: stop pg_dump rather than let it block on a full pipe
	}
	waitErr := cmd.Wait()
	countErr := g.Wait()
	m.PlainBytes = n
	var denied *ReadDeniedError
	switch {
	case waitErr != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case copyErr != nil:
		return nil, fmt.Errorf("write backup: %w", copyErr)
	case errors.As(countErr, &denied):
		// The real cause, whatever pg_dump said about the snapshot its failure took away.
		denied.Role = snap.conn.Config().User
		return nil, denied
	case waitErr != nil:
		msg := o.Source.Scrub(stderr.String())
		if msg == "" {
			msg = waitErr.Error()
		}
		return nil, fmt.Errorf("pg_dump failed (%v): %s", waitErr, msg)
	case countErr != nil:
		return nil, fmt.Errorf("count rows: %w", countErr)
	}
	if err := sealer.Close(); err != nil {
		return nil, fmt.Errorf("finish backup stream: %w", err)
	}
	return sealer, nil
}

func keysRecipients(k *crypt.Keys) []ageRecipient {
	if k == nil {
		return nil
	}
	return k.Recipients
}

// progressReader reports bytes read from pg_dump; the callback decides how often to persist.
type progressReader struct {
	r     io.Reader
	n     int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(p.n, p.total)
	}
	return n, err
}
