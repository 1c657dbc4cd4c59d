// Package recordrecovery brings back individual rows (a deleted patient with its consultations, an overwritten
// note) from a database backup: it restores only the tables needed into a scratch database owned by this
// installation, selects the rows, compares them with the live clinic database by primary key and turns the
// difference into one reviewable SQL transaction that can be applied and undone.
package recordrecovery

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Column is one column of a table as the server describes it.
type Column struct {
	Name      string
	Type      string // format_type(atttypid, atttypmod), e.g. "bigint", "character varying(100)"
	Generated bool   // GENERATED ALWAYS AS (…) STORED: never written
	Sequence  string // pg_get_serial_sequence: the sequence of a serial or identity column, else ""
}

// ForeignKey is one FOREIGN KEY constraint: Child(Cols) REFERENCES Parent(RefCols).
type ForeignKey struct {
	Name    string
	Child   string // schema.table
	Cols    []string
	Parent  string
	RefCols []string
}

// Table is a table of the backup's schema.
type Table struct {
	Name string // schema.table
	// Schema and Rel are the two names Name joins: a schema or table name may itself hold a dot, so Name
	// cannot be split again (ident).
	Schema, Rel string
	Columns     []Column
	PK          []string // primary key columns in key order; empty: the table has none
}

// Schema is the tables and foreign keys of a database (pg_catalog, user schemas only).
type Schema struct {
	Tables map[string]*Table
	// FKs are the foreign keys rows are followed by. A partitioned table's rows live in its partitions, each
	// of which has its own copy of the table's foreign keys (and a foreign key to a partitioned table one to
	// each partition), so FKs leave out those with a partitioned table at either end: partitions are related,
	// and their rows restored and compared, as tables of their own.
	FKs []ForeignKey
	// Dropped are the foreign keys the scratch copy drops: those not inherited from a partitioned table
	// (dropping an inherited copy fails; it goes with the one it was copied from).
	Dropped []ForeignKey
}

func (s *Schema) column(t, c string) (Column, bool) {
	tb := s.Tables[t]
	if tb == nil {
		return Column{}, false
	}
	for _, col := range tb.Columns {
		if col.Name == c {
			return col, true
		}
	}
	return Column{}, false
}

// readSchema asks the server for every ordinary or partitioned table outside pg_catalog and
// information_schema, its columns, primary key and foreign keys.
func readSchema(ctx context.Context, conn *pgx.Conn) (*Schema, error) {
	s := &Schema{Tables: map[string]*Table{}}
	rows, err := conn.Query(ctx, `
SELECT n.nspname || '.' || c.relname, n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '',
       COALESCE(pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, a.attnum`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t, nsp, rel string
		var c Column
		if err := rows.Scan(&t, &nsp, &rel, &c.Name, &c.Type, &c.Generated, &c.Sequence); err != nil {
			return nil, err
		}
		if s.Tables[t] == nil {
			s.Tables[t] = &Table{Name: t, Schema: nsp, Rel: rel}
		}
		s.Tables[t].Columns = append(s.Tables[t].Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, `
SELECT con.contype::text, con.conname, con.conparentid <> 0, c.relkind = 'p' OR COALESCE(p.relkind = 'p', false),
       cn.nspname || '.' || c.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
       COALESCE(pn.nspname || '.' || p.relname, ''),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
LEFT JOIN pg_class p ON p.oid = con.confrelid LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE con.contype IN ('p', 'f') AND cn.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY con.conname`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var typ, name, child, parent string
		var inherited, partitioned bool
		var cols, refs []string
		if err := rows.Scan(&typ, &name, &inherited, &partitioned, &child, &cols, &parent, &refs); err != nil {
			return nil, err
		}
		if typ == "p" {
			if t := s.Tables[child]; t != nil {
				t.PK = cols
			}
			continue
		}
		fk := ForeignKey{Name: name, Child: child, Cols: cols, Parent: parent, RefCols: refs}
		if !partitioned {
			s.FKs = append(s.FKs, fk)
		}
		if !inherited {
			s.Dropped = append(s.Dropped, fk)
		}
	}
	return s, rows.Err()
}

// resolve finds table name ("t" or "schema.t") in s: a bare name must be unique across schemas.
func (s *Schema) resolve(name string) (string, error) {
	if s.Tables[name] != nil {
		return name, nil
	}
	if strings.Contains(name, ".") {
		return "", fmt.Errorf("table %q is not in the backup", name)
	}
	var found []string
	for t := range s.Tables {
		if strings.HasSuffix(t, "."+name) {
			found = append(found, t)
		}
	}
	sort.Strings(found)
	switch len(found) {
	case 0:
		return "", fmt.Errorf("table %q is not in the backup", name)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("table %q is in several schemas of the backup (%s): name one as schema.table", name, strings.Join(found, ", "))
}

// related returns root, its descendants (tables whose foreign keys point at root, transitively) and every
// ancestor (table referenced by a foreign key) of those, sorted.
func (s *Schema) related(root string) []string {
	set := map[string]bool{root: true}
	queue := []string{root}
	for len(queue) > 0 { // down: children, grandchildren…
		t := queue[0]
		queue = queue[1:]
		for _, fk := range s.FKs {
			if fk.Parent == t && !set[fk.Child] {
				set[fk.Child] = true
				queue = append(queue, fk.Child)
			}
		}
	}
	for t := range set {
		queue = append(queue, t)
	}
	for len(queue) > 0 { // up: the parents every selected row may need
		t := queue[0]
		queue = queue[1:]
		for _, fk := range s.FKs {
			if fk.Child == t && !set[fk.Parent] {
				set[fk.Parent] = true
				queue = append(queue, fk.Parent)
			}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// dependencyOrder sorts tables so that a table comes after every table it references (parents first);
// foreign-key cycles and self-references are broken in name order.
func (s *Schema) dependencyOrder(tables []string) []string {
	in := map[string]bool{}
	for _, t := range tables {
		in[t] = true
	}
	done := map[string]bool{}
	var out []string
	sorted := append([]string(nil), tables...)
	sort.Strings(sorted)
	var visit func(t string, path map[string]bool)
	visit = func(t string, path map[string]bool) {
		if done[t] || path[t] {
			return
		}
		path[t] = true
		for _, fk := range s.FKs {
			if fk.Child == t && in[fk.Parent] && fk.Parent != t {
				visit(fk.Parent, path)
			}
		}
		delete(path, t)
		if !done[t] {
			done[t] = true
			out = append(out, t)
		}
	}
	for _, t := range sorted {
		visit(t, map[string]bool{})
	}
	return out
}

// ident quotes t's schema-qualified name as an SQL identifier. It used to split "schema.table" at its first
// dot, which named another table (or none) when the schema's name holds a dot.
func (t *Table) ident() string {
	return pgx.Identifier{t.Schema, t.Rel}.Sanitize()
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sortStrings(s []string) { sort.Strings(s) }
