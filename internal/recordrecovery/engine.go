package recordrecovery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
)

// DefaultMaxRows bounds the rows one selection (and each related table) may bring back; a recovery of more is a
// restore.
const DefaultMaxRows = 5000

// Options describe one comparison of rows in a backup with the live clinic database.
type Options struct {
	Artifact  backup.Artifact
	PGRestore string
	// Guard checks the restore role and creates, marks and drops the scratch database
	// (backup.RecoveryScratchName, purpose "recovery"), exactly as for drills.
	Guard *backup.Guard
	// ID is the recovery id in the scratch database's name.
	ID int64
	// Live is the clinic database the rows are compared with (SOURCE_DATABASE_URL, read in a READ ONLY
	// transaction).
	Live *dbconn.Settings
	// Table is "table" or "schema.table"; Keys and Where choose its rows (see buildSelection).
	Table       string
	Keys        []Key
	Where       string
	WithRelated bool
	MaxRows     int // 0: DefaultMaxRows
	// TempDir holds the filtered pg_restore lists; "" is os.TempDir().
	TempDir string

	wholeTables bool // tests: load the tables whole (the unfiltered data pass) to compare with the filtered one
}

// Row statuses of a Diff.
const (
	Missing   = "missing"   // in the backup, not in the live database (deleted since)
	Changed   = "changed"   // in both, some columns differ
	Unchanged = "unchanged" // in both, identical
	New       = "new"       // only in the live database (created since the backup)
)

// ColumnChange is one differing column of a changed row.
type ColumnChange struct {
	Column string          `json:"column"`
	Backup json.RawMessage `json:"backup"`
	Live   json.RawMessage `json:"live"`
}

// RowDiff is one row of the comparison. Key is the primary key as a JSON array in PK column order.
type RowDiff struct {
	Table   string         `json:"table"`
	Key     string         `json:"key"`
	Status  string         `json:"status"`
	Changes []ColumnChange `json:"changes,omitempty"`
	Backup  Row            `json:"backup,omitempty"` // the row in the backup (missing, changed, unchanged)
	Live    Row            `json:"live,omitempty"`   // the row in the live database (changed, unchanged, new)
}

// TableDiff summarizes one table. Role is "selected" (the chosen table), "child" (points at selected rows,
// transitively) or "parent" (referenced by recovered rows). A table without a primary key is Refused.
type TableDiff struct {
	Table      string   `json:"table"`
	Role       string   `json:"role"`
	PrimaryKey []string `json:"primary_key"`
	Missing    int      `json:"missing"`
	Changed    int      `json:"changed"`
	Unchanged  int      `json:"unchanged"`
	New        int      `json:"new"`
	Refused    string   `json:"refused,omitempty"`
}

// Diff is the comparison of the selected backup rows with the live database.
type Diff struct {
	Table    string      `json:"table"`
	Scratch  string      `json:"scratch_database"`
	Tables   []TableDiff `json:"tables"` // in dependency order (parents first)
	Rows     []RowDiff   `json:"rows"`
	Problems []string    `json:"restore_problems,omitempty"`
	// Loaded is how many rows of each table the filtered data pass copied into the scratch database (nil when
	// the tables were restored whole).
	Loaded     map[string]int64 `json:"-"`
	schema     *Schema
	liveSchema *Schema
}

// Compare restores the chosen table (with WithRelated, every table linked to it by foreign keys both ways)
// from the backup into a fresh scratch database, selects the rows and compares them by primary key with the
// live database. Only the tables' definitions and those tables' data are restored: a first pg_restore pass
// restores the schema without data, indexes or triggers (primary and foreign keys included, on empty tables),
// which tells which tables are related; the foreign keys are then dropped in the scratch copy and a second
// pass (`pg_restore --data-only --use-list`) loads the data of the needed tables only. Like a drill it first
// asks the server whether the restore role is fit (Guard.CheckRole), and the scratch database is dropped
// afterwards whatever happened.
func Compare(ctx context.Context, o Options) (*Diff, error) {
	d := &Diff{}
	if o.Guard == nil {
		return d, errors.New("recovery: no guard (restore role and scratch database checks) configured")
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if _, err := o.Guard.CheckRole(ctx); err != nil {
		return d, err
	}
	inst, err := o.Guard.Installation(ctx)
	if err != nil {
		return d, err
	}
	name := backup.RecoveryScratchName(inst, o.ID)
	d.Scratch = name
	scratch := o.Guard.Admin.WithDatabase(name)
	if err := o.Guard.DropOwned(ctx, name, "recovery"); err != nil {
		return d, err
	}
	if err := o.Guard.CreateOwned(ctx, name, "recovery"); err != nil {
		return d, err
	}
	defer func() { _ = o.Guard.DropOwned(ctx, name, "recovery") }()

	listing, err := backup.ListArchiveHead(ctx, o.Artifact, o.PGRestore)
	if err != nil {
		return d, err
	}
	dir, err := os.MkdirTemp(o.TempDir, "pisbackup-recover-")
	if err != nil {
		return d, err
	}
	defer os.RemoveAll(dir)
	schemaList := filepath.Join(dir, "schema.list")
	if err := os.WriteFile(schemaList, []byte(filterList(listing.Text, keepSchema)), 0o600); err != nil {
		return d, err
	}
	_, probs, err := backup.RestoreSomeHead(ctx, o.Artifact, o.PGRestore, scratch, []string{"--use-list=" + schemaList})
	if err != nil {
		return d, fmt.Errorf("restore the backup's schema: %w", err)
	}
	for _, p := range probs.List {
		d.Problems = append(d.Problems, p.String())
	}
	conn, err := scratch.Connect(ctx)
	if err != nil {
		return d, fmt.Errorf("connect to the scratch database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sch, err := readSchema(ctx, conn)
	if err != nil {
		return d, fmt.Errorf("read the backup's schema: %w", err)
	}
	d.schema = sch
	root, err := sch.resolve(o.Table)
	if err != nil {
		return d, err
	}
	d.Table = root
	if len(sch.Tables[root].PK) == 0 {
		return d, fmt.Errorf("table %s has no primary key, so its rows cannot be matched with the live database; recover it with a full restore", root)
	}
	sel, err := buildSelection(sch, root, o.Keys, o.Where)
	if err != nil {
		return d, err
	}
	tables := []string{root}
	if o.WithRelated {
		tables = sch.related(root)
	}
	// The scratch copy holds only some tables' rows: its foreign keys would refuse them.
	for _, fk := range sch.Dropped {
		if _, err := conn.Exec(ctx, "ALTER TABLE "+sch.Tables[fk.Child].ident()+" DROP CONSTRAINT "+pgx.Identifier{fk.Name}.Sanitize()); err != nil {
			return d, fmt.Errorf("drop foreign key %s in the scratch database: %w", fk.Name, err)
		}
	}
	dataList := filepath.Join(dir, "data.list")
	data := filterList(listing.Text, tableData(sch, tables))
	if strings.TrimSpace(data) != "" {
		if err := os.WriteFile(dataList, []byte(data), 0o600); err != nil {
			return d, err
		}
		loaded, err := errUnfiltered, error(nil)
		if !o.wholeTables {
			p := newDataPlan(sch, root, tables, o.WithRelated, o.Keys, canonical(ctx, conn))
			p.hasData = dataTables(sch, data, tables)
			var l map[string]int64
			if l, err = loadFiltered(ctx, o, conn, p, dataList, dir); err == nil {
				d.Loaded = l
			}
			loaded = err
		}
		if errors.Is(loaded, errUnfiltered) {
			if err := d.loadWhole(ctx, o, scratch, tables, dataList); err != nil {
				return d, err
			}
		} else if loaded != nil {
			return d, loaded
		}
	}

	picked, roles, err := pick(ctx, conn, sch, root, sel, tables, o.WithRelated, o.MaxRows)
	if err != nil {
		return d, err
	}
	live, err := o.Live.Connect(ctx)
	if err != nil {
		return d, fmt.Errorf("connect to the clinic database (SOURCE_DATABASE_URL): %w", err)
	}
	defer live.Close(context.WithoutCancel(ctx))
	tx, err := live.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return d, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if d.liveSchema, err = readSchema(ctx, tx.Conn()); err != nil {
		return d, fmt.Errorf("read the clinic database's schema: %w", err)
	}
	if err := d.compare(ctx, tx, sch, root, sel, picked, roles, o.MaxRows); err != nil {
		return d, err
	}
	return d, nil
}

// loadWhole is the data pass for archives whose data cannot be filtered while streaming (loadFiltered):
// `pg_restore --data-only --use-list` loads the tables whole into the scratch database.
func (d *Diff) loadWhole(ctx context.Context, o Options, scratch *dbconn.Settings, tables []string, dataList string) error {
	_, probs, err := backup.RestoreSomeHead(ctx, o.Artifact, o.PGRestore, scratch, []string{"--data-only", "--use-list=" + dataList})
	if err != nil {
		return fmt.Errorf("restore the rows of %s: %w", strings.Join(tables, ", "), err)
	}
	for _, p := range probs.List {
		d.Problems = append(d.Problems, p.String())
	}
	if probs.DataLost > 0 {
		return fmt.Errorf("the backup's rows could not be restored: %s", probs.Summary())
	}
	d.Loaded = nil
	return nil
}

// pick selects the root rows and, with related, their descendants (rows pointing at them, transitively) and
// the ancestors every picked row references. It returns the rows by table and each table's role.
func pick(ctx context.Context, conn *pgx.Conn, s *Schema, root string, sel where, tables []string, related bool, maxRows int) (map[string][]Row, map[string]string, error) {
	picked := map[string][]Row{}
	seen := map[string]map[string]bool{}
	roles := map[string]string{root: "selected"}
	add := func(t string, rows []Row) []Row {
		if seen[t] == nil {
			seen[t] = map[string]bool{}
		}
		var fresh []Row
		for _, r := range rows {
			k := r.keyText(s.Tables[t].PK)
			if len(s.Tables[t].PK) == 0 {
				b, _ := json.Marshal(r)
				k = string(b)
			}
			if !seen[t][k] {
				seen[t][k] = true
				fresh = append(fresh, r)
			}
		}
		picked[t] = append(picked[t], fresh...)
		return fresh
	}
	rows, err := fetch(ctx, conn, s.Tables[root], sel.sql, sel.args, maxRows, false)
	if err != nil {
		return nil, nil, fmt.Errorf("select rows of %s in the backup: %w", root, err)
	}
	if len(rows) > maxRows {
		return nil, nil, fmt.Errorf("the selection matches more than %d rows of %s in the backup; narrow it (or restore the database)", maxRows, root)
	}
	add(root, rows)
	if !related {
		return picked, roles, nil
	}
	in := map[string]bool{}
	for _, t := range tables {
		in[t] = true
	}
	// Down: rows whose foreign keys point at picked rows. A table is walked again only when it gained rows
	// (or the first time it is reached, so every descendant table is listed): requeueing every child of a
	// table walked made a cycle of foreign keys (a → b → a) loop for ever.
	queue := []string{root}
	walked := map[string]bool{root: true}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, fk := range s.FKs {
			if fk.Parent != t || !in[fk.Child] || roles[fk.Child] == "parent" {
				continue
			}
			fresh, err := follow(ctx, conn, s, fk.Child, fk.Cols, picked[t], fk.RefCols, maxRows)
			if err != nil {
				return nil, nil, err
			}
			if roles[fk.Child] == "" {
				roles[fk.Child] = "child"
			}
			if len(add(fk.Child, fresh)) > 0 || !walked[fk.Child] {
				walked[fk.Child] = true
				queue = append(queue, fk.Child)
			}
		}
	}
	// Up: rows the picked rows reference, and theirs.
	queue = queue[:0]
	for t := range picked {
		queue = append(queue, t)
	}
	sort.Strings(queue)
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, fk := range s.FKs {
			if fk.Child != t || !in[fk.Parent] {
				continue
			}
			fresh, err := follow(ctx, conn, s, fk.Parent, fk.RefCols, picked[t], fk.Cols, maxRows)
			if err != nil {
				return nil, nil, err
			}
			if roles[fk.Parent] == "" {
				roles[fk.Parent] = "parent"
			}
			if len(add(fk.Parent, fresh)) > 0 {
				queue = append(queue, fk.Parent)
			}
		}
	}
	return picked, roles, nil
}

// follow fetches rows of table whose cols equal fromCols of some row in from.
func follow(ctx context.Context, q querier, s *Schema, table string, cols []string, from []Row, fromCols []string, maxRows int) ([]Row, error) {
	var vals [][]json.RawMessage
	for _, r := range from {
		if v, ok := r.values(fromCols); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil, nil
	}
	cond, args, err := inValues(s, table, cols, vals)
	if err != nil {
		return nil, err
	}
	rows, err := fetch(ctx, q, s.Tables[table], cond, args, maxRows, false)
	if err != nil {
		return nil, fmt.Errorf("select related rows of %s: %w", table, err)
	}
	if len(rows) > maxRows {
		return nil, fmt.Errorf("more than %d related rows of %s; recover fewer rows at a time (or restore the database)", maxRows, table)
	}
	return rows, nil
}

// compare matches the picked backup rows with the live rows of the same primary key, and lists live rows
// the selection (or a foreign key to a selected row) reaches that the backup lacks.
func (d *Diff) compare(ctx context.Context, tx pgx.Tx, s *Schema, root string, sel where, picked map[string][]Row, roles map[string]string, maxRows int) error {
	var names []string
	for t := range roles {
		names = append(names, t)
	}
	for _, t := range s.dependencyOrder(names) {
		td := TableDiff{Table: t, Role: roles[t], PrimaryKey: s.Tables[t].PK}
		if len(td.PrimaryKey) == 0 {
			td.Refused = "no primary key: its rows cannot be matched with the live database, so they are listed but never written"
			td.Missing = len(picked[t])
			d.Tables = append(d.Tables, td)
			continue
		}
		if d.liveSchema.Tables[t] == nil {
			td.Refused = "the table no longer exists in the clinic database"
			td.Missing = len(picked[t])
			d.Tables = append(d.Tables, td)
			continue
		}
		live := map[string]Row{}
		var keys [][]json.RawMessage
		for _, r := range picked[t] {
			v, _ := r.values(td.PrimaryKey)
			keys = append(keys, v)
		}
		if len(keys) > 0 {
			cond, args, err := inValues(s, t, td.PrimaryKey, keys)
			if err != nil {
				return err
			}
			rows, err := fetch(ctx, tx, s.Tables[t], cond, args, 0, false)
			if err != nil {
				return fmt.Errorf("read rows of %s in the clinic database: %w", t, err)
			}
			for _, r := range rows {
				live[r.keyText(td.PrimaryKey)] = r
			}
		}
		inBackup := map[string]bool{}
		sortRows(picked[t], td.PrimaryKey)
		for _, b := range picked[t] {
			k := b.keyText(td.PrimaryKey)
			inBackup[k] = true
			rd := RowDiff{Table: t, Key: k, Backup: b}
			l, ok := live[k]
			switch {
			case !ok:
				rd.Status = Missing
				td.Missing++
			default:
				rd.Live = l
				rd.Changes = changes(b, l)
				if len(rd.Changes) > 0 {
					rd.Status = Changed
					td.Changed++
				} else {
					rd.Status = Unchanged
					td.Unchanged++
				}
			}
			d.Rows = append(d.Rows, rd)
		}
		// New since the backup: live rows the selection picks (the chosen table) or that point at a selected
		// row (its children).
		var newRows []Row
		if t == root {
			rows, err := fetch(ctx, tx, s.Tables[t], sel.sql, sel.args, maxRows, false)
			if err != nil {
				return fmt.Errorf("select rows of %s in the clinic database: %w", t, err)
			}
			newRows = rows
		} else if roles[t] == "child" {
			for _, fk := range s.FKs {
				if fk.Child != t || roles[fk.Parent] == "parent" || roles[fk.Parent] == "" {
					continue
				}
				rows, err := follow(ctx, tx, s, t, fk.Cols, picked[fk.Parent], fk.RefCols, maxRows)
				if err != nil {
					return err
				}
				newRows = append(newRows, rows...)
			}
		}
		sortRows(newRows, td.PrimaryKey)
		for _, r := range newRows {
			k := r.keyText(td.PrimaryKey)
			if inBackup[k] {
				continue
			}
			inBackup[k] = true
			td.New++
			d.Rows = append(d.Rows, RowDiff{Table: t, Key: k, Status: New, Live: r})
		}
		d.Tables = append(d.Tables, td)
	}
	return nil
}

// sortRows orders rows by primary key (numbers by value, other JSON values by their text), so a diff lists
// rows in the same order whatever plan the server chose to find them.
func sortRows(rows []Row, pk []string) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, c := range pk {
			if n := compareJSON(rows[i][c], rows[j][c]); n != 0 {
				return n < 0
			}
		}
		return false
	})
}

func compareJSON(a, b json.RawMessage) int {
	fa, fb := new(big.Float), new(big.Float)
	if _, ok := fa.SetString(string(a)); ok {
		if _, ok := fb.SetString(string(b)); ok {
			return fa.Cmp(fb)
		}
	}
	return strings.Compare(string(a), string(b))
}

// changes lists the columns whose values differ (jsonb renders equal values identically); a column only one
// side has counts as a change.
func changes(b, l Row) []ColumnChange {
	var cols []string
	for c := range b {
		cols = append(cols, c)
	}
	for c := range l {
		if _, ok := b[c]; !ok {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	var out []ColumnChange
	for _, c := range cols {
		if string(b[c]) != string(l[c]) {
			out = append(out, ColumnChange{Column: c, Backup: b[c], Live: l[c]})
		}
	}
	return out
}

// keepSchema keeps every entry of a `pg_restore --list` that defines objects (schemas, types, functions,
// tables, sequences, defaults, views, primary/unique/foreign-key constraints) and drops data, indexes,
// triggers, rules, policies and large objects: the scratch copy needs the tables' shape, never their behaviour.
func keepSchema(rest string) bool {
	for _, t := range []string{"TABLE DATA ", "SEQUENCE SET ", "INDEX ", "INDEX ATTACH ", "TRIGGER ", "EVENT TRIGGER ",
		"MATERIALIZED VIEW DATA ", "BLOBS ", "BLOB ", "BLOB METADATA ", "LARGE OBJECT ", "POLICY ", "ROW SECURITY ", "RULE ",
		"STATISTICS ", "PUBLICATION ", "PUBLICATION TABLE ", "PUBLICATION TABLES FROM SCHEMA ", "SUBSCRIPTION ", "CONSTRAINT TRIGGER "} {
		if strings.HasPrefix(rest, t) {
			return false
		}
	}
	return true
}

// tableData keeps the TABLE DATA entries of the given schema.table names. pg_restore --list prints names
// unquoted ("TABLE DATA public Weird "Name" owner"), so entries are matched by prefix, not split at spaces; an
// entry two names could print alike is kept for both (restoring it is harmless, missing it is not). The
// schema and table names come from s (a schema's name may hold a dot), and pg_restore prints a newline or
// carriage return in them as a space.
func tableData(s *Schema, tables []string) func(string) bool {
	var prefixes []string
	listed := strings.NewReplacer("\n", " ", "\r", " ")
	for _, t := range tables {
		schema, name, _ := strings.Cut(t, ".")
		if tb := s.Tables[t]; tb != nil {
			schema, name = tb.Schema, tb.Rel
		}
		prefixes = append(prefixes, "TABLE DATA "+listed.Replace(schema)+" "+listed.Replace(name)+" ")
	}
	return func(rest string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(rest, p) {
				return true
			}
		}
		return false
	}
}

// filterList keeps the lines of a `pg_restore --list` whose entry (the text after "ID; catalog-oid oid ")
// keep accepts; comment lines are dropped.
func filterList(list string, keep func(rest string) bool) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(list))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), ";") || strings.TrimSpace(line) == "" {
			continue
		}
		_, after, ok := strings.Cut(line, "; ")
		if !ok {
			continue
		}
		f := strings.SplitN(strings.TrimSpace(after), " ", 3)
		if len(f) < 3 {
			continue
		}
		if keep(f[2]) {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
