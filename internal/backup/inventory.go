package backup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ObjectInventory is what a drill compares besides tables and sequences, read in the dump's own snapshot: the
// schema objects, every materialized view's row count and the large objects. nil in manifests written before
// it was recorded (drills then say "not recorded in this backup").
type ObjectInventory struct {
	// Objects are the functions, views, triggers, policies, indexes and constraints (see SchemaObject), sorted
	// bytewise by kind, schema, table and name.
	Objects []SchemaObject `json:"schema_objects"`
	// MaterializedViews are every materialized view's row count, sorted by schema and name.
	MaterializedViews []MatViewRows `json:"materialized_views"`
	// LargeObjects are the database's large objects (pg_largeobject_metadata).
	LargeObjects LargeObjects `json:"large_objects"`
}

// SchemaObject is one object of the inventory, named as pg_dump's archive names it.
type SchemaObject struct {
	// Kind is "function", "procedure", "aggregate", "view", "materialized view", "index", "trigger", "policy",
	// "row level security" (ENABLE ROW LEVEL SECURITY on Table), "constraint" or "domain constraint".
	Kind   string `json:"kind"`
	Schema string `json:"schema"`
	// Table is the table (for a domain constraint the domain) a trigger, policy, constraint, index or row level
	// security belongs to; it is in Schema.
	Table string `json:"table,omitempty"`
	// Name is the object's name; a function's carries its argument types ("rate_of(text)"), formatted with an
	// empty search_path as pg_dump formats them ("f(integer, public.mood)").
	Name string `json:"name"`
}

// String is the object as a drill names it: "function public.rate_of(text)", "trigger trg on public.t",
// "constraint positive on domain public.amount", "row level security on public.t".
func (o SchemaObject) String() string {
	switch o.Kind {
	case "trigger", "policy", "constraint":
		return o.Kind + " " + o.Name + " on " + o.Schema + "." + o.Table
	case "domain constraint":
		return "constraint " + o.Name + " on domain " + o.Schema + "." + o.Table
	case "row level security":
		return o.Kind + " on " + o.Schema + "." + o.Table
	}
	return o.Kind + " " + o.Schema + "." + o.Name
}

// restoreEntries are the pg_restore entries ("TYPE object", as RestoreProblem names them) whose failure
// leaves o missing after a restore.
func (o SchemaObject) restoreEntries() []string {
	qualified, onTable := o.Schema+"."+o.Name, o.Schema+"."+o.Table+" "+o.Name
	switch o.Kind {
	case "trigger", "policy":
		return []string{strings.ToUpper(o.Kind) + " " + onTable}
	case "constraint":
		return []string{"CONSTRAINT " + onTable, "FK CONSTRAINT " + onTable, "CHECK CONSTRAINT " + onTable}
	case "domain constraint":
		return []string{"CHECK CONSTRAINT " + onTable, "DOMAIN " + o.Schema + "." + o.Table}
	case "row level security":
		return []string{"ROW SECURITY " + o.Schema + "." + o.Table}
	case "index": // a primary key, unique or exclusion constraint's index has the constraint's name and entry
		return []string{"INDEX " + qualified, "CONSTRAINT " + onTable}
	}
	return []string{strings.ToUpper(o.Kind) + " " + qualified}
}

// MatViewRows is a materialized view's row count.
type MatViewRows struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Populated is false for a view never refreshed (WITH NO DATA), whose rows cannot be read.
	Populated bool `json:"populated"`
	// Rows is the exact count; -1 when not populated, or when the role reading it may not select from it
	// (pg_dump does not read a materialized view's rows, so its role need not be allowed to).
	Rows int64 `json:"rows"`
}

// LargeObjects are a database's large objects.
type LargeObjects struct {
	Count int64 `json:"count"`
	// Digest is the sum, as a decimal, of hashtextextended("oid:length:chained md5 of its 1 MiB pieces", 0)
	// over every large object: order independent, read piece by piece so no object is held in memory whole.
	// Empty when content digests are off.
	Digest string `json:"digest,omitempty"`
}

// TxQuerier is a connection or transaction that can also open a (sub)transaction.
type TxQuerier interface {
	RowQuerier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// inventorySQL lists the schema objects of SchemaObject's kinds, leaving out what pg_dump leaves out: system
// schemas, extension members and whatever belongs to an extension's table, internal triggers (foreign keys),
// constraint triggers' pg_constraint rows (the trigger is listed) and NOT NULL constraints (catalogued as
// constraints from PostgreSQL 18 on, so a restore onto a newer server would list them). Run with an empty
// search_path so type names are qualified the way pg_dump qualifies them. Unordered: ReadInventory sorts
// bytewise (an ORDER BY in the database's collation cost a backup's cold connection more than the query).
const inventorySQL = `
WITH ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
ns AS (SELECT oid, nspname FROM pg_namespace
       WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'),
rel AS (SELECT c.oid, c.relname, c.relkind, ns.nspname FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
        WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid))
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, ns.nspname, '',
       p.proname || '(' || CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*' ELSE COALESCE(
         (SELECT string_agg(format_type(a.t, NULL), ', ' ORDER BY a.o) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, o)), '') END || ')'
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
UNION ALL
SELECT CASE relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, nspname, '', relname FROM rel WHERE relkind IN ('v', 'm')
UNION ALL
SELECT 'index', i.nspname, t.relname, i.relname FROM rel i JOIN pg_index x ON x.indexrelid = i.oid JOIN rel t ON t.oid = x.indrelid
UNION ALL
SELECT 'trigger', t.nspname, t.relname, g.tgname FROM pg_trigger g JOIN rel t ON t.oid = g.tgrelid WHERE NOT g.tgisinternal
UNION ALL
SELECT 'policy', t.nspname, t.relname, p.polname FROM pg_policy p JOIN rel t ON t.oid = p.polrelid
UNION ALL
SELECT 'row level security', t.nspname, t.relname, '' FROM rel t JOIN pg_class c ON c.oid = t.oid WHERE c.relrowsecurity
UNION ALL
SELECT 'constraint', t.nspname, t.relname, c.conname FROM pg_constraint c JOIN rel t ON t.oid = c.conrelid WHERE c.contype NOT IN ('t', 'n')
UNION ALL
SELECT 'domain constraint', ns.nspname, y.typname, c.conname
  FROM pg_constraint c JOIN pg_type y ON y.oid = c.contypid JOIN ns ON ns.oid = y.typnamespace
  WHERE c.contype NOT IN ('n') AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = y.oid)`

// matViewSQL lists the materialized views (extension members left out) and whether the connected role may read
// each; ReadInventory sorts them bytewise by schema and name.
const matViewSQL = `
SELECT n.nspname, c.relname, c.relispopulated, has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`

// largeObjectsSQL counts the large objects and, with $1, digests them (LargeObjects.Digest). Each object is
// read in 1 MiB pieces by a recursive query that keeps, per object, only its offset and the chained md5.
const largeObjectsSQL = `
WITH RECURSIVE piece(oid, off, h, more) AS (
  SELECT m.oid, 0::bigint, ''::text, true FROM pg_largeobject_metadata m WHERE $1
  UNION ALL
  SELECT p.oid, p.off + length(x.b), md5(p.h || md5(x.b)), length(x.b) = 1048576
  FROM piece p, LATERAL (SELECT lo_get(p.oid, p.off, 1048576) AS b) x WHERE p.more)
SELECT (SELECT count(*) FROM pg_largeobject_metadata),
       CASE WHEN $1 THEN (SELECT COALESCE(sum(hashtextextended(oid::text || ':' || off || ':' || h, 0)::numeric), 0)::text
                          FROM piece WHERE NOT more) ELSE '' END`

// ReadInventory reads q's database's ObjectInventory; with digests it also digests the large objects' content.
// It runs in a subtransaction (a savepoint when q is a transaction, such as the dump's snapshot) whose empty
// search_path is undone afterwards, so the caller's settings (the content digests' output settings) stay.
// Errors name what could not be read; a large object the role may not read fails with PostgreSQL's
// permission error, as pg_dump would.
func ReadInventory(ctx context.Context, q TxQuerier, digests bool) (*ObjectInventory, error) {
	tx, err := q.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("read schema objects: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', '', true)"); err != nil {
		return nil, fmt.Errorf("read schema objects: %w", err)
	}
	inv := &ObjectInventory{Objects: []SchemaObject{}, MaterializedViews: []MatViewRows{}}
	rows, err := tx.Query(ctx, inventorySQL)
	if err == nil {
		inv.Objects, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SchemaObject, error) {
			var o SchemaObject
			return o, r.Scan(&o.Kind, &o.Schema, &o.Table, &o.Name)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read schema objects: %w", err)
	}
	slices.SortFunc(inv.Objects, func(a, b SchemaObject) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Schema, b.Schema), strings.Compare(a.Table, b.Table), strings.Compare(a.Name, b.Name))
	})
	type mv struct {
		MatViewRows
		readable bool
	}
	rows, err = tx.Query(ctx, matViewSQL)
	var mvs []mv
	if err == nil {
		mvs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (mv, error) {
			var m mv
			return m, r.Scan(&m.Schema, &m.Name, &m.Populated, &m.readable)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read materialized views: %w", err)
	}
	slices.SortFunc(mvs, func(a, b mv) int { return cmp.Or(strings.Compare(a.Schema, b.Schema), strings.Compare(a.Name, b.Name)) })
	for _, m := range mvs {
		m.Rows = -1
		if m.Populated && m.readable {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{m.Schema, m.Name}.Sanitize()).Scan(&m.Rows); err != nil {
				return nil, fmt.Errorf("count materialized view %s.%s: %w", m.Schema, m.Name, err)
			}
		}
		inv.MaterializedViews = append(inv.MaterializedViews, m.MatViewRows)
	}
	if err := tx.QueryRow(ctx, largeObjectsSQL, digests).Scan(&inv.LargeObjects.Count, &inv.LargeObjects.Digest); err != nil {
		return nil, fmt.Errorf("read large objects: %w", err)
	}
	return inv, nil
}

// ObjectsCheck is a drill's comparison of the manifest's ObjectInventory with the restored database's.
type ObjectsCheck struct {
	// SchemaObjects, MaterializedViews and LargeObjects are how many the backup recorded.
	SchemaObjects     int   `json:"schema_objects"`
	MaterializedViews int   `json:"materialized_views"`
	LargeObjects      int64 `json:"large_objects"`
	// Differences are every difference found, in the order schema objects, materialized views, large objects.
	Differences []ObjectDifference `json:"differences,omitempty"`
}

// ObjectDifference is one object that differs after restore.
type ObjectDifference struct {
	// What names the object and the difference: "function public.rate_of(text) missing after restore",
	// "materialized view public.patient_stats: 2 rows in the backup, 0 after restore", "large objects: 3 in the
	// backup, 2 after restore".
	What string `json:"what"`
	// ExplainedBy says why the difference is known: the restore problem (RestoreProblem.String) that already
	// reports this object, or, for a materialized view whose copy in the backup was stale, that pg_restore
	// refreshed it from the restored tables.
	ExplainedBy string `json:"explained_by,omitempty"`
	// Fails is whether the difference fails the drill (and a restore's comparison). A difference explained by
	// an "object not created" problem does not: that problem is its one report, and it is a problem, not lost
	// data, by the same rule that judges every other problem. Nor does a stale materialized view's refresh
	// (pg_dump's documented behaviour). Unexplained differences, and those explained by a "data lost" problem,
	// fail.
	Fails bool `json:"fails"`
}

// Failing is how many differences fail.
func (c *ObjectsCheck) Failing() int {
	n := 0
	for _, d := range c.Differences {
		if d.Fails {
			n++
		}
	}
	return n
}

// largeObjectEntries are the pg_restore entry types that create large objects or load their content.
var largeObjectEntries = []string{"BLOB", "BLOBS", "BLOB DATA", "LARGE OBJECT", "LARGE OBJECTS"}

// CompareInventory lines up the backup's inventory with the restored database's: schema objects missing after
// restore or present only after it, materialized views whose population or row count differs, and the large
// objects' count and (when the backup has it) digest. Each difference a restore problem already names is
// tied to that problem (ObjectDifference.ExplainedBy), so the two never disagree and an object not created is
// not counted twice.
//
// pg_restore does not copy a materialized view's rows: it refreshes the view from the restored tables. A view
// last refreshed before the backup's tables changed (stale) therefore comes back with other rows, as
// documented and deliberate. When a populated view's row count differs and queryRows is set, queryRows(schema,
// name) evaluates the view's own query on the restored database in an ordinary session: if that gives the
// restored count, the refresh did what the restored tables say and the difference is the stale copy
// (explained, not failing); otherwise the refresh under pg_restore gave something else (for instance a
// function that resolves names through the search_path, which pg_restore empties) and it fails.
func CompareInventory(expected, actual *ObjectInventory, problems RestoreProblems, queryRows func(schema, name string) (int64, error)) *ObjectsCheck {
	c := &ObjectsCheck{SchemaObjects: len(expected.Objects), MaterializedViews: len(expected.MaterializedViews), LargeObjects: expected.LargeObjects.Count}
	add := func(what string, entries func(p RestoreProblem) bool) {
		d := ObjectDifference{What: what, Fails: true}
		for _, p := range problems.List {
			if entries(p) {
				d.ExplainedBy, d.Fails = p.String(), p.DataLost
				break
			}
		}
		c.Differences = append(c.Differences, d)
	}
	named := func(keys ...string) func(RestoreProblem) bool {
		return func(p RestoreProblem) bool { return slices.Contains(keys, p.Type+" "+p.Object) }
	}
	got := map[SchemaObject]bool{}
	for _, o := range actual.Objects {
		got[o] = true
	}
	had := map[SchemaObject]bool{}
	for _, o := range expected.Objects {
		had[o] = true
		if !got[o] {
			add(o.String()+" missing after restore", named(o.restoreEntries()...))
		}
	}
	for _, o := range actual.Objects {
		if !had[o] {
			add(o.String()+" present after restore but not in the backup", named())
		}
	}
	mvs := map[string]MatViewRows{}
	for _, m := range actual.MaterializedViews {
		mvs[m.Schema+"."+m.Name] = m
	}
	for _, m := range expected.MaterializedViews {
		k := m.Schema + "." + m.Name
		a, ok := mvs[k]
		if !ok {
			continue // the view itself is missing: a schema-object difference already
		}
		switch {
		case m.Populated && !a.Populated:
			add(fmt.Sprintf("materialized view %s: %s in the backup, not populated after restore", k, rowsOrPopulated(m)),
				named("MATERIALIZED VIEW DATA "+k, "MATERIALIZED VIEW "+k))
		case !m.Populated && a.Populated:
			add(fmt.Sprintf("materialized view %s: not populated in the backup, %s after restore", k, rows(a.Rows)), named())
		case m.Rows >= 0 && m.Rows != a.Rows:
			what := fmt.Sprintf("materialized view %s: %s in the backup, %d after restore", k, rows(m.Rows), a.Rows)
			if queryRows == nil {
				add(what, named("MATERIALIZED VIEW DATA "+k))
				break
			}
			switch n, err := queryRows(m.Schema, m.Name); {
			case err != nil:
				add(fmt.Sprintf("%s (its query fails on the restored database: %v)", what, err), named("MATERIALIZED VIEW DATA "+k))
			case n == a.Rows:
				c.Differences = append(c.Differences, ObjectDifference{What: what, ExplainedBy: fmt.Sprintf(
					"the backup's copy was stale: its query gives %s on the restored tables, and pg_restore refreshes every materialized view", rows(n))})
			default:
				add(fmt.Sprintf("%s, although its query gives %d on the restored tables", what, n), named("MATERIALIZED VIEW DATA "+k))
			}
		}
	}
	lo, alo := expected.LargeObjects, actual.LargeObjects
	isLO := func(p RestoreProblem) bool { return slices.Contains(largeObjectEntries, p.Type) }
	switch {
	case lo.Count != alo.Count:
		add(fmt.Sprintf("large objects: %d in the backup, %d after restore", lo.Count, alo.Count), isLO)
	case lo.Digest != "" && alo.Digest != "" && lo.Digest != alo.Digest:
		add(fmt.Sprintf("large objects: %d in the backup and after restore, but their content differs", lo.Count), isLO)
	}
	return c
}

func rows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

func rowsOrPopulated(m MatViewRows) string {
	if m.Rows < 0 {
		return "populated"
	}
	return rows(m.Rows)
}
