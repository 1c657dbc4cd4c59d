package recordrecovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/recordrecovery"
)

type equivCase struct {
	name    string
	table   string
	keys    []string
	where   string
	related bool
}

// requireSameDiffs runs each case through the filtered and the whole-table data pass and requires the same
// diff (or the same error). A case that runs past a minute fails (a hang is a finding too). It returns the
// filtered diffs by case name.
func requireSameDiffs(t *testing.T, f *fixture, cases []equivCase) map[string]*recordrecovery.Diff {
	t.Helper()
	out := map[string]*recordrecovery.Diff{}
	for i, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		o := f.opts
		o.ID += int64(10*i) + 5000
		o.Table, o.Where, o.WithRelated = tc.table, tc.where, tc.related
		for _, k := range tc.keys {
			o.Keys = append(o.Keys, keyOf(t, k))
		}
		filtered, ferr := recordrecovery.Compare(ctx, o)
		require.NoError(t, ctx.Err(), "%s: the filtered recovery hung", tc.name)
		o.ID++
		whole, werr := recordrecovery.Compare(ctx, recordrecovery.WholeTables(o))
		require.NoError(t, ctx.Err(), "%s: the whole-table recovery hung", tc.name)
		cancel()
		require.NoError(t, werr, tc.name)
		require.NoError(t, ferr, tc.name)
		require.Equal(t, whole.Table, filtered.Table, tc.name)
		require.Equal(t, whole.Tables, filtered.Tables, tc.name)
		require.Equal(t, whole.Rows, filtered.Rows, tc.name)
		require.Equal(t, whole.Problems, filtered.Problems, tc.name)
		out[tc.name] = filtered
	}
	return out
}

// Foreign keys the filter compares as printed text, in shapes the demo clinic lacks: composite keys with a
// NULL part, a key to a UNIQUE column that is not the primary key, int4 referencing int8, uuid keys given in
// another spelling, two foreign keys between the same tables, ON DELETE SET NULL and deferrable constraints,
// children streaming before and after their parents.
var oddFKs = []string{
	`CREATE TABLE z_comp_parent (a integer, b bigint, patient_id bigint REFERENCES patients_patient (id), note text, PRIMARY KEY (a, b))`,
	`CREATE TABLE a_comp_child (id integer PRIMARY KEY, a smallint, b integer, FOREIGN KEY (a, b) REFERENCES z_comp_parent (a, b) DEFERRABLE INITIALLY DEFERRED)`,
	`CREATE TABLE z_uq_parent (id integer PRIMARY KEY, mrn integer UNIQUE NOT NULL, patient_id bigint REFERENCES patients_patient (id) ON DELETE SET NULL)`,
	`CREATE TABLE a_uq_child (id integer PRIMARY KEY, mrn bigint REFERENCES z_uq_parent (mrn), alt_mrn integer REFERENCES z_uq_parent (mrn))`,
	`CREATE TABLE a_uu_parent (u uuid PRIMARY KEY, patient_id integer REFERENCES patients_patient (id))`,
	`CREATE TABLE z_uu_child (id bigint PRIMARY KEY, u uuid REFERENCES a_uu_parent (u), body text)`,
}

func (f *fixture) oddFKRows(t *testing.T) {
	f.exec(t, `INSERT INTO z_comp_parent SELECT p.id, g, p.id, 'n' || g FROM patients_patient p, generate_series(1, 3) g WHERE p.id <= 40`)
	f.exec(t, `INSERT INTO z_comp_parent SELECT 100 + g, g, NULL, 'orphan' FROM generate_series(1, 5) g`)
	f.exec(t, `INSERT INTO a_comp_child SELECT row_number() OVER (), a, b FROM z_comp_parent`)
	f.exec(t, `INSERT INTO a_comp_child VALUES (10001, NULL, 1), (10002, 1, NULL), (10003, NULL, NULL)`)
	f.exec(t, `INSERT INTO z_uq_parent SELECT p.id::integer, 100000 - p.id::integer, p.id FROM patients_patient p WHERE p.id <= 40`)
	f.exec(t, `INSERT INTO a_uq_child SELECT id, mrn, CASE WHEN id % 2 = 0 AND id < 40 THEN 100000 - id - 1 END FROM z_uq_parent WHERE id > 1`)
	f.exec(t, `INSERT INTO a_uu_parent SELECT md5(p.id::text)::uuid, p.id FROM patients_patient p WHERE p.id <= 40`)
	f.exec(t, `INSERT INTO z_uu_child SELECT row_number() OVER (), u, E'b\\\t' || patient_id FROM a_uu_parent, generate_series(1, 2)`)
}

func TestFilteredDataPassOddForeignKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oddFKs...)
	f.oddFKRows(t)
	f = f.rebackup(t)
	f.exec(t, `DELETE FROM a_comp_child WHERE (a, b) IN (SELECT a, b FROM z_comp_parent WHERE patient_id = 3)`)
	f.exec(t, `DELETE FROM z_comp_parent WHERE patient_id = 3`)
	f.exec(t, `UPDATE z_uq_parent SET patient_id = NULL WHERE patient_id = 3`)
	f.exec(t, `DELETE FROM z_uu_child WHERE u = md5('3')::uuid`)
	var u string
	require.NoError(t, f.live.QueryRow(context.Background(), `SELECT upper(md5('3')::uuid::text)`).Scan(&u))
	diffs := requireSameDiffs(t, f, []equivCase{
		{"patient with odd children", "patients_patient", []string{"id=3"}, "", true},
		{"patient key zero-padded", "patients_patient", []string{"id=0003"}, "", true},
		{"composite root key, spaced", "z_comp_parent", []string{"a=3,b= 3", "a=+1, b=1"}, "", true},
		{"unique mrn root", "z_uq_parent", []string{"mrn=99997"}, "", true},
		{"uuid upper case in braces", "a_uu_parent", []string{"u={" + u + "}"}, "", true},
		{"uuid child", "z_uu_child", []string{"id=5"}, "", true},
		{"composite child with NULL parts", "a_comp_child", []string{"id=10001", "id=10002", "id=10003"}, "", true},
		{"key and where", "z_comp_parent", []string{"a=3,b=3"}, "note = 'n3'", true},
	})
	tables := tableCounts(diffs["patient with odd children"])
	require.Equal(t, 3, tables["public.z_comp_parent"].Missing)
	require.Equal(t, 3, tables["public.a_comp_child"].Missing)
	require.Equal(t, 2, tables["public.z_uu_child"].Missing)
	require.Equal(t, 1, tables["public.z_uq_parent"].Changed)
}

// A cycle of foreign keys (a_cyc → b_cyc → a_cyc) below the recovered table.
func TestRecoverForeignKeyCycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		`CREATE TABLE b_cyc (id integer PRIMARY KEY, a_id integer, patient_id bigint REFERENCES patients_patient (id))`,
		`CREATE TABLE a_cyc (id integer PRIMARY KEY, b_id integer REFERENCES b_cyc (id), note text)`,
		`ALTER TABLE b_cyc ADD FOREIGN KEY (a_id) REFERENCES a_cyc (id) DEFERRABLE INITIALLY DEFERRED`,
	)
	f.exec(t, `BEGIN; INSERT INTO b_cyc SELECT id, id, id FROM patients_patient WHERE id <= 20;
		INSERT INTO a_cyc SELECT id, CASE WHEN id > 1 THEN id - 1 END, 'a' || id FROM b_cyc; COMMIT`)
	f = f.rebackup(t)
	f.exec(t, `UPDATE a_cyc SET note = 'changed' WHERE id IN (4, 5)`)
	diffs := requireSameDiffs(t, f, []equivCase{
		{"patient over a cycle", "patients_patient", []string{"id=4"}, "", true},
		{"cycle root", "a_cyc", []string{"id=6"}, "", true},
	})
	tables := tableCounts(diffs["patient over a cycle"])
	// Down: b 4 → a 5 (b_id 4) → b 5 → a 6 … → a 20; up: b 4 → a 4 → b 3 → a 3 … → a 1. Every a row.
	require.Equal(t, 20, tables["public.a_cyc"].Changed+tables["public.a_cyc"].Unchanged)
	require.Equal(t, 2, tables["public.a_cyc"].Changed)
}

// A table in a schema whose name holds a dot, a quote and a newline, related to the patient.
func TestRecoverSchemaWithDot(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		`CREATE SCHEMA "odd.sch ""q""
nl"`,
		`CREATE TABLE "odd.sch ""q""
nl"."no.te" (id integer PRIMARY KEY, patient_id bigint REFERENCES patients_patient (id), body text)`,
	)
	f.exec(t, `INSERT INTO "odd.sch ""q""
nl"."no.te" SELECT id, id, 'body ' || id FROM patients_patient WHERE id <= 10`)
	f = f.rebackup(t)
	f.exec(t, `DELETE FROM "odd.sch ""q""
nl"."no.te" WHERE patient_id = 2`)
	diffs := requireSameDiffs(t, f, []equivCase{
		{"patient with a note in an odd schema", "patients_patient", []string{"id=2"}, "", true},
		{"odd table itself", "odd.sch \"q\"\nnl.no.te", []string{"id=2"}, "", false},
	})
	require.Equal(t, 1, tableCounts(diffs["patient with a note in an odd schema"])["odd.sch \"q\"\nnl.no.te"].Missing)
	require.Equal(t, 1, tableCounts(diffs["odd table itself"])["odd.sch \"q\"\nnl.no.te"].Missing)
}

// The row cap refuses, filtered or not, rather than silently truncating the recovery.
func TestFilteredDataPassKeepsTheRowCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.patientWithChildren(t)
	consultations := f.count(t, `SELECT count(*) FROM patients_medicalrecord WHERE patient_id = $1`, id)
	require.Greater(t, consultations, 1)
	ctx := context.Background()
	for i, c := range []struct {
		table string
		keys  []string
		where string
		max   int
		want  string
	}{
		{"patients_patient", []string{"id=" + itoa(id)}, "", consultations - 1, "more than"},
		{"patients_medicalrecord", nil, "patient_id = " + itoa(id), consultations - 1, "the selection matches more than"},
		{"patients_patient", []string{"id=" + itoa(id), "id=" + itoa(id+1), "id=" + itoa(id+2)}, "", 2, "the selection matches more than"},
	} {
		o := f.opts
		o.ID += int64(10*i) + 7000
		o.Table, o.Where, o.WithRelated, o.MaxRows = c.table, c.where, true, c.max
		for _, k := range c.keys {
			o.Keys = append(o.Keys, keyOf(t, k))
		}
		_, ferr := recordrecovery.Compare(ctx, o)
		o.ID++
		_, werr := recordrecovery.Compare(ctx, recordrecovery.WholeTables(o))
		require.Error(t, werr)
		require.ErrorContains(t, ferr, c.want)
		require.Equal(t, werr.Error(), ferr.Error())
	}
}

// A partitioned table with a foreign key to the patient: the recovery failed ("cannot drop inherited constraint"
// of a partition) whenever it was related.
func TestRecoverPartitionedChild(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		`CREATE TABLE visits (id bigint, patient_id bigint REFERENCES patients_patient (id), at date, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`,
		`CREATE TABLE visits_2024 PARTITION OF visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
		`CREATE TABLE visits_2025 PARTITION OF visits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
	)
	f.exec(t, `INSERT INTO visits SELECT p.id * 1000 + g, p.id, date '2024-06-01' + g, 'v' || g FROM patients_patient p, generate_series(1, 400, 100) g WHERE p.id <= 10`)
	f = f.rebackup(t)
	f.exec(t, `DELETE FROM visits WHERE patient_id = 2`)
	diffs := requireSameDiffs(t, f, []equivCase{
		{"patient with partitioned visits", "patients_patient", []string{"id=2"}, "", true},
	})
	tables := tableCounts(diffs["patient with partitioned visits"])
	require.Equal(t, 3, tables["public.visits_2024"].Missing, "the patient's visits come back from the partitions that hold them")
	require.Equal(t, 1, tables["public.visits_2025"].Missing)
	require.NotContains(t, tables, "public.visits", "rows are listed once, under their partition")
}
