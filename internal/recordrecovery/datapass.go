package recordrecovery

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
)

// The filtered data pass. pick selects rows with SQL: the root rows matching the selection, then (with
// related tables) rows whose foreign keys point at picked rows (down), then rows picked rows point at (up).
// Loading every related table whole into the scratch database only for pick to keep a handful of rows is what
// made a recovery as slow as a drill. Instead the COPY blocks are read while pg_restore prints them and only a
// superset of the rows pick can reach is loaded:
//
//   - root rows matching one of the --key values (compared as the server prints the key cast to the column's
//     type); every root row when the selection is only a --where filter or a key column's type is not one
//     whose equal values always print alike (integers and uuid);
//   - down, rows whose foreign-key columns hold the referenced columns' values of candidate parent rows;
//   - up, rows whose referenced columns hold the foreign-key values of candidate child rows.
//
// pick then runs unchanged on the scratch database and, every row it can reach being there, selects exactly
// the rows it would have selected with the tables whole (the result is identical; the tests compare both).
// A table is decided while it streams by when every value it is compared with is already final (a table
// decided earlier, or the --key values themselves for the columns the keys name); otherwise its rows are kept
// in a temporary file and decided after the stream, repeating until nothing changes (foreign-key cycles). An
// edge whose column types are not exactly comparable as printed keeps every row of its table.

// exactTypes are the column types whose equal values are always printed alike in COPY's text format.
var exactTypes = map[string]string{"smallint": "int", "integer": "int", "bigint": "int", "uuid": "uuid"}

type flow struct {
	fk             ForeignKey
	exact          bool
	colKey, refKey string // fk.Cols, fk.RefCols joined: the keys of valsU and valsD
	// keys, for a down edge from the root, holds every value the root's candidate rows can have in fk.RefCols:
	// the --key values themselves, known before the root's data streams by.
	keys map[string]bool
}

type dataPlan struct {
	s         *Schema
	root      string
	tables    map[string]bool
	down      map[string]bool     // the root and its descendants
	rootWhole bool                // every root row is a candidate
	rootKeys  []map[string]string // per --key: column -> escaped canonical value
	downIn    map[string][]flow   // by child: foreign keys to a parent in down
	upIn      map[string][]flow   // by parent: foreign keys from a child in tables
	hasData   map[string]bool     // tables with a TABLE DATA entry in the archive
}

// newDataPlan prepares the filter. canon casts a --key value to a column type on the scratch server and
// returns its text ("" and an error when it cannot: the root is then loaded whole and pick reports the error
// as before).
func newDataPlan(s *Schema, root string, tables []string, related bool, keys []Key, canon func(value, typ string) (string, error)) *dataPlan {
	p := &dataPlan{s: s, root: root, tables: map[string]bool{}, down: map[string]bool{root: true},
		downIn: map[string][]flow{}, upIn: map[string][]flow{}, hasData: map[string]bool{}}
	for _, t := range tables {
		p.tables[t] = true
	}
	// The root's key filter.
	p.rootWhole = len(keys) == 0
	for _, k := range keys {
		m := map[string]string{}
		for _, part := range k {
			c, ok := s.column(root, part.Column)
			if !ok || c.Generated || exactTypes[c.Type] == "" {
				p.rootWhole = true
				break
			}
			if _, dup := m[part.Column]; dup {
				continue // "id=1,id=2" matches nothing; the first value bounds it well enough
			}
			v, err := canon(part.Value, c.Type)
			if err != nil {
				p.rootWhole = true
				break
			}
			m[part.Column] = copyEscape(v)
		}
		p.rootKeys = append(p.rootKeys, m)
	}
	if p.rootWhole {
		p.rootKeys = nil
	}
	if !related {
		return p
	}
	// Down: the descendants, as pick walks them.
	queue := []string{root}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, fk := range s.FKs {
			if fk.Parent == t && p.tables[fk.Child] && !p.down[fk.Child] {
				p.down[fk.Child] = true
				queue = append(queue, fk.Child)
			}
		}
	}
	rootBound := !p.rootWhole
	for _, fk := range s.FKs {
		if fk.Child == root && p.down[fk.Parent] {
			rootBound = false // the root's candidates also come from its own descendants
		}
	}
	for _, fk := range s.FKs {
		if !p.tables[fk.Child] || !p.tables[fk.Parent] {
			continue
		}
		f := flow{fk: fk, exact: p.comparable(fk), colKey: strings.Join(fk.Cols, "\x00"), refKey: strings.Join(fk.RefCols, "\x00")}
		if p.down[fk.Parent] {
			d := f
			if d.exact && fk.Parent == root && rootBound {
				d.keys = p.keyValues(fk.RefCols)
			}
			p.downIn[fk.Child] = append(p.downIn[fk.Child], d)
		}
		p.upIn[fk.Parent] = append(p.upIn[fk.Parent], f)
	}
	return p
}

// comparable: every column pair of fk has types whose equal values print alike, and none is generated (COPY
// leaves generated columns out).
func (p *dataPlan) comparable(fk ForeignKey) bool {
	if len(fk.Cols) != len(fk.RefCols) || len(fk.Cols) == 0 {
		return false
	}
	for i := range fk.Cols {
		a, ok1 := p.s.column(fk.Child, fk.Cols[i])
		b, ok2 := p.s.column(fk.Parent, fk.RefCols[i])
		if !ok1 || !ok2 || a.Generated || b.Generated || exactTypes[a.Type] == "" || exactTypes[a.Type] != exactTypes[b.Type] {
			return false
		}
	}
	return true
}

// keyValues is the set of cols' values every root row matching some --key has, or nil when a key leaves one
// of cols open.
func (p *dataPlan) keyValues(cols []string) map[string]bool {
	set := map[string]bool{}
	for _, k := range p.rootKeys {
		vals := make([]string, len(cols))
		for i, c := range cols {
			v, ok := k[c]
			if !ok {
				return nil
			}
			vals[i] = v
		}
		set[strings.Join(vals, "\t")] = true
	}
	return set
}

// tableRows is one table's rows in the stream and which of them are candidates.
type tableRows struct {
	name     string
	h        copyHeader
	idx      map[string]int
	deferred bool
	file     *os.File // deferred: every row; else: the candidate rows
	w        *bufio.Writer
	rows     int
	inD, inU map[int]bool               // deferred: candidate ordinals (down, all)
	valsD    map[string]map[string]bool // joined column names -> values of candidate rows in down
	valsU    map[string]map[string]bool
	picked   int // candidate rows
	done     bool
	// The foreign keys that decide r's rows, and the tables at their other end (nil until they stream by).
	downIn, upIn      []flow
	parents, children []*tableRows
}

// dataFilter receives the script (copyScript) and decides the candidates.
type dataFilter struct {
	p      *dataPlan
	dir    string
	enc    string
	byName map[string]*tableRows
	order  []*tableRows
	cur    *tableRows
}

func newDataFilter(p *dataPlan, dir string) *dataFilter {
	return &dataFilter{p: p, dir: dir, byName: map[string]*tableRows{}}
}

func (f *dataFilter) Encoding(name string) { f.enc = name }

// final: t's candidates are decided and will not change (decided while streaming, or no data in the archive).
func (f *dataFilter) final(t string) bool {
	if !f.p.hasData[t] {
		return true
	}
	r := f.byName[t]
	return r != nil && r.done && !r.deferred
}

func (f *dataFilter) Begin(h copyHeader) error {
	name := h.Name()
	if !f.p.tables[name] {
		f.cur = nil // not needed (a list entry matched more loosely than this): skipped
		return nil
	}
	if f.byName[name] != nil {
		return fmt.Errorf("%w: two COPY blocks for %s", errUnfiltered, name)
	}
	r := &tableRows{name: name, h: h, idx: map[string]int{}, inD: map[int]bool{}, inU: map[int]bool{},
		valsD: map[string]map[string]bool{}, valsU: map[string]map[string]bool{}}
	for i, c := range h.Columns {
		r.idx[c] = i
	}
	for _, fl := range f.p.downIn[name] {
		if fl.exact && !r.has(fl.fk.Cols) {
			return fmt.Errorf("%w: %s's COPY block lacks columns of %s", errUnfiltered, name, fl.fk.Name)
		}
		if fl.exact && fl.keys == nil && (fl.fk.Parent == name || !f.final(fl.fk.Parent)) {
			r.deferred = true
		}
	}
	for _, fl := range f.p.upIn[name] {
		if fl.exact && !r.has(fl.fk.RefCols) {
			return fmt.Errorf("%w: %s's COPY block lacks columns of %s", errUnfiltered, name, fl.fk.Name)
		}
		if fl.exact && (fl.fk.Child == name || !f.final(fl.fk.Child)) {
			r.deferred = true
		}
	}
	if name == f.p.root {
		for _, k := range f.p.rootKeys {
			for c := range k {
				if _, ok := r.idx[c]; !ok {
					return fmt.Errorf("%w: %s's COPY block lacks key column %s", errUnfiltered, name, c)
				}
			}
		}
	}
	file, err := os.CreateTemp(f.dir, "rows-*")
	if err != nil {
		return err
	}
	// The spool holds patients' rows in plain text (a deferred table whole): unlinked at once, it is read
	// through its descriptor only and its blocks are freed when the descriptor closes, however the process
	// ends (a kill -9 or an OOM kill runs no deferred clean-up and used to leave it in the temporary directory).
	if err := os.Remove(file.Name()); err != nil {
		file.Close()
		return err
	}
	r.file, r.w = file, bufio.NewWriterSize(file, 256<<10)
	r.downIn, r.upIn = f.p.downIn[name], f.p.upIn[name]
	r.parents, r.children = make([]*tableRows, len(r.downIn)), make([]*tableRows, len(r.upIn))
	f.byName[name] = r
	f.order = append(f.order, r)
	for _, o := range f.order { // link r and the tables that streamed before it, both ways
		for i, fl := range o.downIn {
			if fl.fk.Parent == name {
				o.parents[i] = r
			}
		}
		for i, fl := range o.upIn {
			if fl.fk.Child == name {
				o.children[i] = r
			}
		}
		if o == r {
			continue
		}
		for i, fl := range r.downIn {
			if fl.fk.Parent == o.name {
				r.parents[i] = o
			}
		}
		for i, fl := range r.upIn {
			if fl.fk.Child == o.name {
				r.children[i] = o
			}
		}
	}
	f.cur = r
	return nil
}

func (r *tableRows) has(cols []string) bool {
	for _, c := range cols {
		if _, ok := r.idx[c]; !ok {
			return false
		}
	}
	return true
}

// values is row's fields cols joined by tabs (still escaped); ok is false when one is NULL (it references
// nothing) or missing.
func (r *tableRows) values(row []byte, cols []string) (string, bool) {
	if len(cols) == 1 {
		v, ok := r.value(row, cols[0])
		return string(v), ok
	}
	var b strings.Builder
	for i, c := range cols {
		v, ok := copyField(row, r.idx[c])
		if !ok || string(v) == `\N` {
			return "", false
		}
		if i > 0 {
			b.WriteByte('\t')
		}
		b.Write(v)
	}
	return b.String(), true
}

// value is row's field col (still escaped), without copying; ok is false when it is NULL or missing.
func (r *tableRows) value(row []byte, col string) ([]byte, bool) {
	v, ok := copyField(row, r.idx[col])
	if !ok || string(v) == `\N` {
		return nil, false
	}
	return v, true
}

// in reports whether row's cols values are in set (map lookups with a []byte key do not allocate).
func (r *tableRows) in(set map[string]bool, row []byte, cols []string) bool {
	if len(set) == 0 {
		return false
	}
	if len(cols) == 1 {
		v, ok := r.value(row, cols[0])
		return ok && set[string(v)]
	}
	v, ok := r.values(row, cols)
	return ok && set[v]
}

func (f *dataFilter) Row(line []byte) error {
	r := f.cur
	if r == nil {
		return nil
	}
	n := r.rows
	r.rows++
	if r.deferred {
		if _, err := r.w.Write(line); err != nil {
			return err
		}
		return r.w.WriteByte('\n')
	}
	d, u := f.member(r, line)
	if !u {
		return nil
	}
	f.take(r, n, line, d)
	if _, err := r.w.Write(line); err != nil {
		return err
	}
	return r.w.WriteByte('\n')
}

func (f *dataFilter) End() error {
	if r := f.cur; r != nil {
		r.done = true
		if err := r.w.Flush(); err != nil {
			return err
		}
	}
	f.cur = nil
	return nil
}

// member says whether row of r is a candidate in down (d) and at all (u).
func (f *dataFilter) member(r *tableRows, row []byte) (d, u bool) {
	p := f.p
	if p.down[r.name] {
		if r.name == p.root {
			d = p.rootWhole || f.matchesKey(r, row)
		}
		for i := 0; !d && i < len(r.downIn); i++ {
			fl := &r.downIn[i]
			switch {
			case !fl.exact:
				d = true
			case r.in(fl.keys, row, fl.fk.Cols):
				d = true
			case r.parents[i] != nil && r.in(r.parents[i].valsD[fl.refKey], row, fl.fk.Cols):
				d = true
			}
		}
	}
	u = d
	for i := 0; !u && i < len(r.upIn); i++ {
		fl := &r.upIn[i]
		switch {
		case !fl.exact:
			u = true
		case r.children[i] != nil && r.in(r.children[i].valsU[fl.colKey], row, fl.fk.RefCols):
			u = true
		}
	}
	return d, u
}

func (f *dataFilter) matchesKey(r *tableRows, row []byte) bool {
	for _, k := range f.p.rootKeys {
		all := true
		for c, want := range k {
			v, ok := copyField(row, r.idx[c])
			if !ok || string(v) != want {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// take records row n of r as a candidate (in down when d) and the values other tables are compared with.
// It reports whether anything was new.
func (f *dataFilter) take(r *tableRows, n int, row []byte, d bool) bool {
	fresh := false
	if d && !r.inD[n] {
		r.inD[n], fresh = true, true
		for _, fl := range f.p.s.FKs {
			if fl.Parent == r.name && f.p.down[r.name] && f.p.tables[fl.Child] {
				addVal(r.valsD, r, row, fl.RefCols)
			}
		}
	}
	if !r.inU[n] {
		r.inU[n], fresh = true, true
		r.picked++
		for _, fl := range f.p.s.FKs {
			if fl.Child == r.name && f.p.tables[fl.Parent] {
				addVal(r.valsU, r, row, fl.Cols)
			}
		}
	}
	return fresh
}

func addVal(m map[string]map[string]bool, r *tableRows, row []byte, cols []string) {
	if !r.has(cols) {
		return
	}
	v, ok := r.values(row, cols)
	if !ok {
		return
	}
	k := strings.Join(cols, "\x00")
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

// settle decides the deferred tables' candidates, repeating until no table gains a row.
func (f *dataFilter) settle() error {
	for {
		changed := false
		for _, r := range f.order {
			if !r.deferred {
				continue
			}
			err := r.scan(func(n int, row []byte) error {
				if r.inU[n] && (r.inD[n] || !f.p.down[r.name]) {
					return nil
				}
				if d, u := f.member(r, row); u && f.take(r, n, row, d) {
					changed = true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
	}
}

// scan calls fn with every row of a deferred table's file.
func (r *tableRows) scan(fn func(n int, row []byte) error) error {
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	lines := backup.NewLineReader(r.file)
	for n := 0; ; n++ {
		line, err := lines.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
}

// candidates streams the candidate rows of r, each followed by a newline, in archive order.
func (r *tableRows) candidates() (io.Reader, error) {
	if !r.deferred {
		if _, err := r.file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return bufio.NewReaderSize(r.file, 1<<20), nil
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(r.scan(func(n int, row []byte) error {
			if !r.inU[n] {
				return nil
			}
			if _, err := pw.Write(row); err != nil {
				return err
			}
			_, err := pw.Write([]byte{'\n'})
			return err
		}))
	}()
	return pr, nil
}

func (f *dataFilter) close() {
	for _, r := range f.order {
		r.file.Close()
	}
}

// loadFiltered runs the filtered data pass: pg_restore prints the needed tables' data as a script (no
// database connection), the candidates are chosen, and only they are copied into the scratch database.
// It returns the rows loaded by table. errUnfiltered (wrapped) says the archive's data could not be filtered:
// nothing was loaded and the caller restores the tables whole.
func loadFiltered(ctx context.Context, o Options, conn *pgx.Conn, p *dataPlan, dataList, dir string) (map[string]int64, error) {
	f := newDataFilter(p, dir)
	defer f.close()
	pr, pw := io.Pipe()
	parsed := make(chan error, 1)
	go func() {
		err := readCopyScript(pr, f)
		if err == nil {
			_, err = io.Copy(io.Discard, pr) // nothing follows the script; never leave pg_restore blocked
		}
		pr.CloseWithError(err)
		parsed <- err
	}()
	_, err := backup.ScriptSome(ctx, o.Artifact, o.PGRestore, []string{"--data-only", "--use-list=" + dataList}, pw)
	pw.Close()
	perr := <-parsed
	if perr != nil {
		return nil, fmt.Errorf("read the backup's rows: %w", perr)
	}
	if err != nil {
		return nil, fmt.Errorf("read the backup's rows: %w", err)
	}
	for t := range p.hasData {
		if f.byName[t] == nil && p.tables[t] {
			return nil, fmt.Errorf("%w: no COPY block for %s", errUnfiltered, t)
		}
	}
	if err := f.settle(); err != nil {
		return nil, err
	}
	if f.enc != "" && !strings.EqualFold(f.enc, "UTF8") {
		if _, err := conn.Exec(ctx, "SELECT set_config('client_encoding', $1, false)", f.enc); err != nil {
			return nil, fmt.Errorf("set the backup's client_encoding %s: %w", f.enc, err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), "RESET client_encoding")
	}
	loaded := map[string]int64{}
	for _, r := range f.order {
		loaded[r.name] = 0
		if r.picked == 0 {
			continue
		}
		src, err := r.candidates()
		if err != nil {
			return nil, err
		}
		tag, err := conn.PgConn().CopyFrom(ctx, src, r.h.Statement())
		if c, ok := src.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("load the backup's rows of %s into the scratch database: %w", r.name, err)
		}
		loaded[r.name] = tag.RowsAffected()
	}
	return loaded, nil
}

// dataTables lists the tables of a `pg_restore --list` data list that have TABLE DATA entries, among names.
func dataTables(s *Schema, list string, names []string) map[string]bool {
	out := map[string]bool{}
	for _, t := range names {
		if strings.TrimSpace(filterList(list, tableData(s, []string{t}))) != "" {
			out[t] = true
		}
	}
	return out
}

// canonical casts value to typ on conn and returns the server's text for it.
func canonical(ctx context.Context, conn *pgx.Conn) func(value, typ string) (string, error) {
	return func(value, typ string) (string, error) {
		var s string
		err := conn.QueryRow(ctx, "SELECT CAST($1::text AS "+typ+")::text", value).Scan(&s)
		return s, err
	}
}
