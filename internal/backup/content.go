package backup

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
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

// pgOptions is DumpOutputSettings as libpq's PGOPTIONS ("-c name=value …"), appended after the connection's own.
func pgOptions() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(DumpOutputSettings)) {
		parts = append(parts, "-c "+k+"="+DumpOutputSettings[k])
	}
	return strings.Join(parts, " ")
}

// TableContent is one table's rows as a count and a digest (sum of the row lines' xxHash64, mod 2^64).
type TableContent struct {
	Schema, Name string
	// Columns are the archive's COPY column list (generated columns are not in it).
	Columns []string
	Rows    int64
	Sum     uint64
	// Bytes is the size of the rows' text (the archive's side only: the largest tables are read back first).
	Bytes int64
}

// ArchiveContent is every table's content as the archive holds it.
type ArchiveContent struct {
	// Encoding is the archive's (its `SET client_encoding`): the restored rows are read in it too.
	Encoding string
	Tables   map[string]*TableContent // by "schema.name"
}

// ReadArchiveContent reads pg_restore's script output (--data-only --file=-) and digests each COPY block. Lines
// outside COPY blocks (SET, setval, large objects) are skipped. A COPY statement it cannot read, or a block
// without its `\.` end, is an error: the content check must not silently cover less than the archive.
func ReadArchiveContent(r io.Reader) (*ArchiveContent, error) {
	ac := &ArchiveContent{Tables: map[string]*TableContent{}}
	br := bufio.NewReaderSize(r, 1<<20)
	var cur *TableContent
	long := xxhash.New()
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if cur == nil {
				return nil, fmt.Errorf("the archive's script has a line over %d bytes outside table data", br.Size())
			}
			// A row longer than the buffer (a 200 MB value): hash it in pieces, never holding it whole.
			long.Reset()
			for errors.Is(err, bufio.ErrBufferFull) {
				_, _ = long.Write(line)
				line, err = br.ReadSlice('\n')
			}
			_, _ = long.Write(bytes.TrimSuffix(line, []byte("\n")))
			cur.Bytes += int64(long.Size())
			cur.Rows++
			cur.Sum += long.Sum64()
			line = nil
		}
		if len(line) > 0 {
			l := bytes.TrimSuffix(line, []byte("\n"))
			switch {
			case cur != nil && string(l) == `\.`:
				cur = nil
			case cur != nil:
				cur.Bytes += int64(len(line))
				cur.Rows++
				cur.Sum += xxhash.Sum64(l)
			case bytes.HasPrefix(l, []byte("COPY ")) && bytes.HasSuffix(l, []byte(" FROM stdin;")):
				t, perr := parseCopyHeader(string(l))
				if perr != nil {
					return nil, perr
				}
				k := t.Schema + "." + t.Name
				if prev, ok := ac.Tables[k]; ok {
					t = prev // a table's data in several blocks (never from pg_dump, but harmless)
				}
				ac.Tables[k] = t
				cur = t
			case bytes.HasPrefix(l, []byte("SET client_encoding = '")):
				ac.Encoding = strings.TrimSuffix(strings.TrimPrefix(string(l), "SET client_encoding = '"), "';")
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("the archive's rows of %s.%s end without their end marker", cur.Schema, cur.Name)
	}
	return ac, nil
}

// parseCopyHeader reads pg_dump's `COPY schema.table (col, …) FROM stdin;` (identifiers quoted as fmtId does:
// double quotes, "" inside). A table without columns has no list.
func parseCopyHeader(line string) (*TableContent, error) {
	s := strings.TrimSuffix(strings.TrimPrefix(line, "COPY "), " FROM stdin;")
	bad := func(why string) (*TableContent, error) {
		return nil, fmt.Errorf("cannot read the archive's COPY statement %.200q: %s", line, why)
	}
	var parts []string
	for {
		id, rest, ok := cutIdent(s)
		if !ok {
			return bad("expected a table name")
		}
		parts, s = append(parts, id), rest
		if !strings.HasPrefix(s, ".") {
			break
		}
		s = s[1:]
	}
	if len(parts) != 2 {
		return bad("expected schema.table")
	}
	t := &TableContent{Schema: parts[0], Name: parts[1]}
	s = strings.TrimSpace(s)
	if s == "" {
		return t, nil
	}
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return bad("expected a column list")
	}
	s = s[1 : len(s)-1]
	for {
		id, rest, ok := cutIdent(strings.TrimLeft(s, " "))
		if !ok {
			return bad("expected a column name")
		}
		t.Columns = append(t.Columns, id)
		if rest == "" {
			return t, nil
		}
		if !strings.HasPrefix(rest, ",") {
			return bad("expected a comma between columns")
		}
		s = rest[1:]
	}
}

// cutIdent takes one identifier off s: "quoted" (with "" for a quote) or plain up to '.', ',', ' ' or ')'.
func cutIdent(s string) (id, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '"' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			return b.String(), s[i+1:], b.Len() > 0
		}
		return "", "", false
	}
	i := strings.IndexAny(s, ".,) ")
	if i < 0 {
		i = len(s)
	}
	return s[:i], s[i:], i > 0
}

// RestoredContent reads the tables of ac from the database on conn with COPY … TO STDOUT over the archive's
// columns, in the archive's encoding and the dump's output settings (settings: Manifest.DumpSettings, only
// outputSettingNames are applied), each in a read-only transaction, and digests them as ReadArchiveContent
// does. A table that cannot be read (not restored) is returned with Rows -1. With another, a second
// connection reads tables beside conn (largest first): the server's output functions are most of the cost.
func RestoredContent(ctx context.Context, conn *pgx.Conn, ac *ArchiveContent, settings map[string]string, another func(context.Context) (*pgx.Conn, error)) (map[string]*TableContent, error) {
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
	read := func(ctx context.Context, c *pgx.Conn) error {
		for k := range next {
			want := ac.Tables[k]
			got := &TableContent{Schema: want.Schema, Name: want.Name, Columns: want.Columns}
			if err := copyDigest(ctx, c, ac.Encoding, settings, got); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				got.Rows = -1
			}
			mu.Lock()
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
		return nil, err
	}
	return out, nil
}

func copyDigest(ctx context.Context, conn *pgx.Conn, encoding string, settings map[string]string, t *TableContent) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
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
	q := "COPY " + pgx.Identifier{t.Schema, t.Name}.Sanitize()
	if len(t.Columns) > 0 {
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = pgx.Identifier{c}.Sanitize()
		}
		q += " (" + strings.Join(cols, ", ") + ")"
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
