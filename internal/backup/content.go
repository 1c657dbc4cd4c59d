package backup

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// Content digests of a drill, computed from the archive itself (issue 22).
//
// A drill proves that what the archive holds is what the restore loaded. Each table's rows are read twice: from
// the archive, as `pg_restore --data-only --file=-` prints its COPY blocks (no database involved), and from the
// restored database with `COPY … TO STDOUT` over the same columns in the same output settings. Both sides are
// reduced to a count and an order-independent digest: the sum, modulo 2^64, of each row line's 64-bit xxHash.
// The backup itself pays nothing for this (before, every table was scanned a second time in the dump's snapshot
// to digest it, which cost a backup about 1.5× its wall time, make bench), and the archive is, by construction,
// the dump's own snapshot.
//
// What the archive does not carry is computed on restore: stored generated columns (pg_dump leaves them out of
// COPY). Those tables alone are digested in the dump's snapshot at backup time (CountTables) and compared after
// restore.

// DumpOutputSettings are the run-time parameters pg_dump runs with (PGOPTIONS) so that the text of its COPY
// rows is reproducible on any server: COPY output reads TimeZone (timestamptz) and bytea_output (bytea); pg_dump
// itself fixes DateStyle, IntervalStyle and extra_float_digits (pg_dump.c, setup_connection). The manifest
// records them, with lc_monetary (money) as the source had it, in Manifest.DumpSettings.
var DumpOutputSettings = map[string]string{
	"TimeZone": "UTC", "bytea_output": "hex", "DateStyle": "ISO", "IntervalStyle": "postgres", "extra_float_digits": "3",
}

// outputSettingNames are the only settings a manifest's DumpSettings may carry into the drill's session.
var outputSettingNames = []string{"TimeZone", "bytea_output", "DateStyle", "IntervalStyle", "extra_float_digits", "lc_monetary"}

// NoTimeouts are the timeouts pg_dump and pg_restore switch off for their own sessions (pg_dump.c,
// setup_connection). A restored database carries the source's ALTER DATABASE … SET settings, a
// statement_timeout or idle_in_transaction_session_timeout among them, and the clinic's role may set them:
// pisbackup's own reading sessions start with them off (dbconn.Settings.WithParams), before any statement.
var NoTimeouts = map[string]string{"statement_timeout": "0", "lock_timeout": "0", "idle_in_transaction_session_timeout": "0"}

// TableContent is one table's rows as a count and a digest (sum of the row lines' xxHash64, mod 2^64).
type TableContent struct {
	Schema, Name string
	// Columns are the archive's COPY column list (generated columns are not in it).
	Columns []string
	Rows    int64
	Sum     uint64
	// Bytes is the size of the rows' text (the archive's side only: the largest tables are read back first).
	Bytes int64
	// Key is the restored table's "schema.name" in the connection's encoding, as the drill's other checks name
	// it (the archive's names are in the archive's encoding); set by RestoredContent when the table exists.
	Key string
	// Leaves are the restored table's leaf partitions ("schema.name", as Key) when it is a partitioned table:
	// the archive then loads their rows through it (pg_dump's --load-via-partition-root, which it forces for
	// hash partitioning on an enum, whose hash differs on another database), and a row may land in another
	// leaf than in the source.
	Leaves []string
}

// ArchiveContent is every table's content as the archive holds it.
type ArchiveContent struct {
	// Encoding is the archive's (its `SET client_encoding`): the restored rows are read in it too.
	Encoding string
	Tables   map[string]*TableContent // by "schema.name"
}

// ReadArchiveContent reads pg_restore's script output (--data-only --file=-, ReadCopyScript) and digests each
// COPY block. A COPY statement it cannot read, table data that is not COPY blocks, or a block without its `\.`
// end is an error: the content check must not silently cover less than the archive.
func ReadArchiveContent(r io.Reader) (*ArchiveContent, error) {
	d := &archiveDigest{ac: &ArchiveContent{Tables: map[string]*TableContent{}}}
	if err := ReadCopyScript(r, d); err != nil {
		return nil, err
	}
	return d.ac, nil
}

// archiveDigest is the CopyScript handler of ReadArchiveContent.
type archiveDigest struct {
	ac  *ArchiveContent
	cur *TableContent
}

func (d *archiveDigest) Encoding(name string) { d.ac.Encoding = name }

func (d *archiveDigest) Begin(h CopyHeader) error {
	k := h.Name()
	if prev, ok := d.ac.Tables[k]; ok {
		// Partitions loaded through their root (pg_dump --load-via-partition-root, forced for hash partitions
		// on an enum) are one block each, all naming the root: their rows add up.
		if !slices.Equal(prev.Columns, h.Columns) {
			return fmt.Errorf("the archive holds COPY blocks for %s with different columns", k)
		}
		d.cur = prev
		return nil
	}
	d.cur = &TableContent{Schema: h.Schema, Name: h.Table, Columns: h.Columns}
	d.ac.Tables[k] = d.cur
	return nil
}

func (d *archiveDigest) Row(line []byte) error {
	d.cur.Rows++
	d.cur.Bytes += int64(len(line)) + 1
	d.cur.Sum += xxhash.Sum64(line)
	return nil
}

func (d *archiveDigest) End() error { d.cur = nil; return nil }

// RestoredContent reads the tables of ac from the database on conn with COPY … TO STDOUT over the archive's
// columns, in the archive's encoding and the dump's output settings (settings: Manifest.DumpSettings, only
// outputSettingNames are applied), inside one read-only transaction per table, and digests them as
// ReadArchiveContent does. A table that cannot be read (not restored) is returned with Rows -1, and a warning
// says why. A setting the server refuses (an lc_monetary naming a locale it lacks: a drill on another server)
// is left at the server's own value, with a warning: the restore read the archive's text in that value too, so
// a value it parsed differently still differs. With another, a second connection reads tables beside conn
// (largest first): the server's output functions are most of the cost. conn and another's connections should
// start with NoTimeouts (dbconn.Settings.WithParams), or a timeout the restored database carries cuts a read.
func RestoredContent(ctx context.Context, conn *pgx.Conn, ac *ArchiveContent, settings map[string]string, another func(context.Context) (*pgx.Conn, error)) (map[string]*TableContent, []string, error) {
	var warnings []string
	usable := map[string]string{}
	for _, name := range outputSettingNames {
		v, ok := settings[name]
		if !ok {
			continue
		}
		if err := trySetting(ctx, conn, name, v); err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			warnings = append(warnings, fmt.Sprintf("the restored rows were read with the server's own %s, not the source's %q: %v", name, v, err))
			continue
		}
		usable[name] = v
	}
	keys := slices.SortedFunc(maps.Keys(ac.Tables), func(a, b string) int {
		return cmp.Or(cmp.Compare(ac.Tables[b].Bytes, ac.Tables[a].Bytes), strings.Compare(a, b))
	})
	next := make(chan string, len(keys))
	for _, k := range keys {
		next <- k
	}
	close(next)
	var mu sync.Mutex
	out := map[string]*TableContent{}
	unread := map[string]error{}
	read := func(ctx context.Context, c *pgx.Conn) error {
		for k := range next {
			want := ac.Tables[k]
			got := &TableContent{Schema: want.Schema, Name: want.Name, Columns: want.Columns}
			err := copyDigest(ctx, c, ac.Encoding, usable, got)
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			if err != nil {
				got.Rows = -1
				unread[k] = err
			}
			out[k] = got
			mu.Unlock()
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	if another != nil && len(keys) > 1 {
		g.Go(func() error {
			c, err := another(gctx)
			if err != nil {
				return nil // the first connection reads everything alone
			}
			defer c.Close(context.WithoutCancel(ctx))
			return read(gctx, c)
		})
	}
	g.Go(func() error { return read(gctx, conn) })
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for i, k := range slices.Sorted(maps.Keys(unread)) {
		if i == 10 {
			warnings = append(warnings, fmt.Sprintf("… and the rows of %d more tables could not be read", len(unread)-10))
			break
		}
		warnings = append(warnings, fmt.Sprintf("the restored rows of %s could not be read: %v", k, unread[k]))
	}
	return out, warnings, nil
}

// trySetting sets name to v in a transaction it rolls back: an error says the server refuses the value.
func trySetting(ctx context.Context, conn *pgx.Conn, name, v string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	_, err = tx.Exec(ctx, "SELECT set_config($1, $2, true)", name, v)
	return err
}

func copyDigest(ctx context.Context, conn *pgx.Conn, encoding string, settings map[string]string, t *TableContent) error {
	own := conn.PgConn().ParameterStatus("client_encoding")
	if own == "" {
		own = "UTF8"
	}
	// Read-write only for a forced row security's ALTER below, never committed; read-only before the COPY.
	// Read-write explicitly: the source's default_transaction_read_only, re-applied to the restored database,
	// would refuse that ALTER.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// A policy must not hide rows from the read (row_security off, as in pg_dump: a policy that would
	// apply makes the COPY fail, and says why, instead of silently reading fewer rows).
	if _, err := tx.Exec(ctx, "SELECT set_config('row_security', 'off', true)"); err != nil {
		return fmt.Errorf("set row_security: %w", err)
	}
	// pg_dump always runs with an empty search_path: a regclass, regproc or regtype value naming a user
	// object prints schema-qualified in the archive, and must here too (the scratch database's default
	// search_path would print it bare).
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', '', true)"); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	for _, name := range outputSettingNames {
		if v, ok := settings[name]; ok {
			if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", name, v); err != nil {
				return fmt.Errorf("set %s: %w", name, err)
			}
		}
	}
	if encoding != "" {
		if _, err := tx.Exec(ctx, "SELECT set_config('client_encoding', $1, true)", encoding); err != nil {
			return fmt.Errorf("set client_encoding: %w", err)
		}
	}
	// The names are read back in the connection's own encoding (convert_to gives bytes, which the archive's
	// client_encoding leaves alone), as the drill's other checks read them.
	var oid uint32
	var kind string
	var ns, rel []byte
	var forced bool
	if err := tx.QueryRow(ctx, `SELECT c.oid, c.relkind::text, pg_catalog.convert_to(n.nspname, $3), pg_catalog.convert_to(c.relname, $3),
		       c.relrowsecurity AND c.relforcerowsecurity
		         -- a superuser or BYPASSRLS role reads past every policy already: no ALTER (and no event
		         -- trigger a dump might have left in the database fires as that role; RESTORE_ALLOW_SUPERUSER)
		         AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, t.Schema, t.Name, own).Scan(&oid, &kind, &ns, &rel, &forced); err != nil {
		return fmt.Errorf("find %s.%s: %w", t.Schema, t.Name, err)
	}
	t.Key = string(ns) + "." + string(rel)
	id := pgx.Identifier{t.Schema, t.Name}.Sanitize()
	if forced {
		// FORCE ROW LEVEL SECURITY holds the owner (the restore role, which restored the rows before the
		// policies) to its policies too; undone with the transaction, which is never committed.
		if _, err := tx.Exec(ctx, "ALTER TABLE "+id+" NO FORCE ROW LEVEL SECURITY"); err != nil {
			return fmt.Errorf("read %s past its forced row security: %w", t.Key, err)
		}
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION READ ONLY"); err != nil {
		return err
	}
	cols := ColumnList(t.Columns)
	var q string
	switch {
	case kind == "p":
		// COPY cannot read a partitioned table itself; its rows are all its leaves' rows.
		rows, err := tx.Query(ctx, `SELECT pg_catalog.convert_to(n.nspname, $2), pg_catalog.convert_to(c.relname, $2)
			FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) p
			JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE p.isleaf`, oid, own)
		if err != nil {
			return err
		}
		t.Leaves, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var ln, lr []byte
			err := r.Scan(&ln, &lr)
			return string(ln) + "." + string(lr), err
		})
		if err != nil {
			return err
		}
		q = "COPY (SELECT " + cols + " FROM " + id + ")"
	case len(cols) > 0:
		q = "COPY " + id + " (" + cols + ")"
	default:
		q = "COPY " + id
	}
	h := &lineDigest{t: t}
	if _, err := tx.Conn().PgConn().CopyTo(ctx, h, q+" TO STDOUT"); err != nil {
		return err
	}
	if len(h.part) > 0 {
		h.line(h.part)
	}
	return nil
}

// lineDigest digests newline-ended lines written in any chunks.
type lineDigest struct {
	t    *TableContent
	part []byte
}

func (d *lineDigest) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			d.part = append(d.part, b...)
			break
		}
		if len(d.part) > 0 {
			d.line(append(d.part, b[:i]...))
			d.part = d.part[:0]
		} else {
			d.line(b[:i])
		}
		b = b[i+1:]
	}
	return n, nil
}

func (d *lineDigest) line(l []byte) {
	d.t.Rows++
	d.t.Sum += xxhash.Sum64(l)
}
