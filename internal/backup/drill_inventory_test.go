package backup_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// inventorySource has one object of every inventoried kind, three large objects and a populated
// materialized view of two rows.
const inventorySource = `
	CREATE TABLE z_rates(code text PRIMARY KEY, factor int CONSTRAINT z_rates_factor_check CHECK (factor > 0));
	INSERT INTO z_rates VALUES ('A',10),('B',20);
	CREATE FUNCTION rate_of(c text) RETURNS int IMMUTABLE LANGUAGE plpgsql
	  AS $$BEGIN RETURN coalesce((SELECT factor FROM public.z_rates WHERE code=c),-1); END$$;
	CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
	CREATE TRIGGER z_touch BEFORE UPDATE ON z_rates FOR EACH ROW EXECUTE FUNCTION touch();
	CREATE INDEX z_rates_factor_idx ON z_rates(factor);
	ALTER TABLE z_rates ENABLE ROW LEVEL SECURITY;
	CREATE POLICY z_read ON z_rates USING (true);
	CREATE VIEW z_view AS SELECT code FROM z_rates;
	CREATE MATERIALIZED VIEW patient_stats AS SELECT code, factor FROM z_rates;
	CREATE DOMAIN amount AS int CONSTRAINT amount_positive CHECK (VALUE > 0);
	CREATE TYPE mood AS ENUM ('ok', 'not ok');
	CREATE FUNCTION mood_of(m mood, n amount) RETURNS text LANGUAGE sql AS 'SELECT m::text';
	SELECT lo_from_bytea(0, 'first'), lo_from_bytea(0, 'second'), lo_from_bytea(0, '')`

// scratchExec returns an AfterRestore hook running sql in the scratch database as the restore role.
func scratchExec(sql string) func(context.Context, *dbconn.Settings) error {
	return func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
}

// The manifest records the inventory in the dump's snapshot: every kind by name (a function with its argument
// types, qualified as pg_dump qualifies them), the materialized view's rows, the large objects' count and digest.
func TestManifestRecordsInventory(t *testing.T) {
	t.Parallel()
	o, _ := drillOf(t, sourceWith(t, inventorySource))
	inv := o.Inventory
	require.NotNil(t, inv)
	var names []string
	for _, x := range inv.Objects {
		names = append(names, x.String())
	}
	for _, want := range []string{"function public.rate_of(text)", "function public.touch()", "function public.mood_of(public.mood, public.amount)",
		"trigger z_touch on public.z_rates", "policy z_read on public.z_rates", "row level security on public.z_rates",
		"index public.z_rates_factor_idx", "index public.z_rates_pkey", "constraint z_rates_pkey on public.z_rates",
		"constraint z_rates_factor_check on public.z_rates", "constraint amount_positive on domain public.amount",
		"view public.z_view", "materialized view public.patient_stats"} {
		require.Contains(t, names, want)
	}
	require.Len(t, names, 13, names)
	require.Equal(t, []backup.MatViewRows{{Schema: "public", Name: "patient_stats", Populated: true, Rows: 2}}, inv.MaterializedViews)
	require.Equal(t, int64(3), inv.LargeObjects.Count)
	require.NotEmpty(t, inv.LargeObjects.Digest)
}

// A drill notices every kind of schema object the restored database lacks, although no restore problem said
// so, and names it. Each subtest loses one object after the restore (the scratch database is tampered with,
// as a silent loss would look), and one gains an object the backup did not have.
func TestDrillNamesSchemaObjectDifferences(t *testing.T) {
	t.Parallel()
	base, _ := drillOf(t, sourceWith(t, inventorySource))
	for _, c := range []struct{ kind, sql, want string }{
		{"function", "DROP FUNCTION public.rate_of(text)", "function public.rate_of(text) missing after restore"},
		{"trigger", "DROP TRIGGER z_touch ON public.z_rates", "trigger z_touch on public.z_rates missing after restore"},
		{"policy", "DROP POLICY z_read ON public.z_rates", "policy z_read on public.z_rates missing after restore"},
		{"row level security", "ALTER TABLE public.z_rates DISABLE ROW LEVEL SECURITY", "row level security on public.z_rates missing after restore"},
		{"index", "DROP INDEX public.z_rates_factor_idx", "index public.z_rates_factor_idx missing after restore"},
		{"constraint", "ALTER TABLE public.z_rates DROP CONSTRAINT z_rates_factor_check", "constraint z_rates_factor_check on public.z_rates missing after restore"},
		{"domain constraint", "ALTER DOMAIN public.amount DROP CONSTRAINT amount_positive", "constraint amount_positive on domain public.amount missing after restore"},
		{"view", "DROP VIEW public.z_view", "view public.z_view missing after restore"},
		{"extra", "CREATE FUNCTION public.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'", "function public.planted() present after restore but not in the backup"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			o := base
			o.ID = time.Now().UnixNano()
			o.AfterRestore = scratchExec(c.sql)
			res, err := backup.Drill(context.Background(), o)
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "1 schema objects, materialized views or large objects differ")
			require.NotNil(t, res.Objects)
			require.Equal(t, []backup.ObjectDifference{{What: c.want, Fails: true}}, res.Objects.Differences)
			require.Equal(t, 1, res.Mismatches)
		})
	}
}

// Materialized view row counts are compared. pg_restore refreshes every view from the restored tables, under
// an empty search_path: a view whose function finds its table only through the search_path (and swallows the
// error) comes back empty with no restore problem, and the drill fails naming it. A view that was stale in the
// backup (its table changed after its last refresh) comes back refreshed: listed, explained, not failing.
func TestDrillComparesMaterializedViewRows(t *testing.T) {
	t.Parallel()
	o, _ := drillOf(t, sourceWith(t, `
		CREATE TABLE visits(id int, patient text); INSERT INTO visits VALUES (1,'p1'), (2,'p2');
		CREATE MATERIALIZED VIEW visit_list AS SELECT id FROM public.visits;
		INSERT INTO visits VALUES (3,'p3');
		CREATE FUNCTION visible_count() RETURNS bigint LANGUAGE plpgsql STABLE
		  AS $$BEGIN RETURN (SELECT count(*) FROM visits); EXCEPTION WHEN undefined_table THEN RETURN 0; END$$;
		CREATE MATERIALIZED VIEW patient_stats AS SELECT patient FROM public.visits WHERE public.visible_count() > 0;`))
	require.Equal(t, []backup.MatViewRows{{Schema: "public", Name: "patient_stats", Populated: true, Rows: 3},
		{Schema: "public", Name: "visit_list", Populated: true, Rows: 2}}, o.Inventory.MaterializedViews)
	res, err := backup.Drill(context.Background(), o)
	want := "materialized view public.patient_stats: 3 rows in the backup, 0 after restore, although its query gives 3 on the restored tables"
	require.ErrorContains(t, err, want)
	require.NotContains(t, err.Error(), "visit_list")
	require.Zero(t, res.Problems.Count(), "pg_restore reported nothing")
	require.NotNil(t, res.Objects)
	require.Equal(t, []backup.ObjectDifference{{What: want, Fails: true},
		{What: "materialized view public.visit_list: 2 rows in the backup, 3 after restore",
			ExplainedBy: "the backup's copy was stale: its query gives 3 rows on the restored tables, and pg_restore refreshes every materialized view"}},
		res.Objects.Differences)
	require.Equal(t, 1, res.Mismatches)
}

// A materialized view whose rows or population differ after restore although no restore problem says why, and
// its query on the restored tables disagrees, fails the drill (the scratch database is tampered with).
func TestDrillNamesMaterializedViewTampering(t *testing.T) {
	t.Parallel()
	base, _ := drillOf(t, sourceWith(t, inventorySource))
	for name, c := range map[string]struct{ sql, want string }{
		"rows": {"DELETE FROM public.z_rates WHERE code = 'B'; REFRESH MATERIALIZED VIEW public.patient_stats; INSERT INTO public.z_rates VALUES ('B', 20)",
			"materialized view public.patient_stats: 2 rows in the backup, 1 after restore, although its query gives 2 on the restored tables"},
		"unpopulated": {"REFRESH MATERIALIZED VIEW public.patient_stats WITH NO DATA", "materialized view public.patient_stats: 2 rows in the backup, not populated after restore"},
	} {
		t.Run(name, func(t *testing.T) {
			o := base
			o.ID = time.Now().UnixNano()
			o.AfterRestore = scratchExec(c.sql)
			res, err := backup.Drill(context.Background(), o)
			require.ErrorContains(t, err, c.want)
			require.NotNil(t, res.Objects)
			require.Equal(t, []backup.ObjectDifference{{What: c.want, Fails: true}}, res.Objects.Differences)
		})
	}
}

// Large objects are compared by count and by content digest.
func TestDrillComparesLargeObjects(t *testing.T) {
	t.Parallel()
	base, _ := drillOf(t, sourceWith(t, inventorySource))
	for name, c := range map[string]struct{ sql, want string }{
		"count":   {"SELECT lo_unlink(min(oid)) FROM pg_largeobject_metadata", "large objects: 3 in the backup, 2 after restore"},
		"content": {"SELECT lo_put(oid, 0, 'X') FROM pg_largeobject_metadata WHERE lo_get(oid) = 'second'", "large objects: 3 in the backup and after restore, but their content differs"},
	} {
		t.Run(name, func(t *testing.T) {
			o := base
			o.ID = time.Now().UnixNano()
			o.AfterRestore = scratchExec(c.sql)
			res, err := backup.Drill(context.Background(), o)
			require.ErrorContains(t, err, c.want)
			require.NotNil(t, res.Objects)
			require.Equal(t, []backup.ObjectDifference{{What: c.want, Fails: true}}, res.Objects.Differences)
		})
	}
	// Untouched, the same backup drills clean: the inventory round-trips through pg_dump and pg_restore.
	res, err := backup.Drill(context.Background(), base)
	require.NoError(t, err)
	require.NotNil(t, res.Objects)
	require.Empty(t, res.Objects.Differences)
	require.Equal(t, 13, res.Objects.SchemaObjects)
	require.Equal(t, 1, res.Objects.MaterializedViews)
	require.Equal(t, int64(3), res.Objects.LargeObjects)
	require.Empty(t, res.Warnings)
}

// A large object's digest reads it in pieces: content beyond the first 1 MiB counts, and an object of several
// MiB digests the same on both sides.
func TestLargeObjectDigestReadsWholeObjects(t *testing.T) {
	t.Parallel()
	base, _ := drillOf(t, sourceWith(t, `SELECT lo_from_bytea(0, decode(repeat('ab', 3*1048576 + 17), 'hex'))`))
	require.Equal(t, int64(1), base.Inventory.LargeObjects.Count)
	o := base
	o.ID = time.Now().UnixNano()
	o.AfterRestore = scratchExec("SELECT lo_put(oid, 3*1048576 + 5, 'X') FROM pg_largeobject_metadata")
	_, err := backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "large objects: 1 in the backup and after restore, but their content differs")
	base.ID = time.Now().UnixNano()
	_, err = backup.Drill(context.Background(), base)
	require.NoError(t, err)
}

// A backup whose manifest predates the inventory still verifies; the drill says what it could not compare.
func TestDrillOfManifestWithoutInventorySaysNotRecorded(t *testing.T) {
	t.Parallel()
	o, _ := drillOf(t, sourceWith(t, inventorySource))
	o.Inventory = nil
	o.AfterRestore = scratchExec("DROP FUNCTION public.rate_of(text)") // nothing recorded: nothing to notice
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err)
	require.Nil(t, res.Objects)
	require.Equal(t, []string{backup.InventoryNotRecorded}, res.Warnings)
	require.Contains(t, res.Warnings[0], "not recorded in this backup")

	m, err := backup.ParseManifest([]byte(`{"format_version":1,"kind":"database","tables":[{"schema":"public","name":"t","rows":1}]}`))
	require.NoError(t, err)
	require.Nil(t, m.Inventory, "a manifest written before the inventory parses without one")
}

// One truth: a difference a restore problem already reports is tied to that problem, not counted again, and
// judged by the problem's kind. An object not created (here a policy and a grant for a role the target lacks,
// and a materialized view whose refresh fails) leaves the drill passing; the same object lost silently
// fails it (TestDrillNamesSchemaObjectDifferences).
func TestDrillTiesDifferencesToRestoreProblems(t *testing.T) {
	t.Parallel()
	gone := "i22b_gone_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	exec1(t, testdb.AdminURL, "DROP ROLE IF EXISTS "+gone+"; CREATE ROLE "+gone+" NOLOGIN")
	t.Cleanup(func() { exec1(t, testdb.AdminURL, "DROP ROLE IF EXISTS "+gone) })
	src := sourceWith(t, `
		CREATE TABLE visits(id int, patient text); INSERT INTO visits VALUES (1,'p1'), (2,'p2');
		CREATE FUNCTION visit_count(p text) RETURNS bigint LANGUAGE sql STABLE
		  AS 'SELECT count(*) FROM visits WHERE patient=p';
		CREATE MATERIALIZED VIEW patient_stats AS SELECT patient, visit_count(patient) n FROM visits;
		CREATE POLICY p ON visits TO `+gone+` USING (true);`)
	o, _ := drillOf(t, src)
	exec1(t, src, "DROP POLICY p ON visits")
	exec1(t, testdb.AdminURL, "DROP ROLE "+gone)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, "objects not created lose no data")
	require.Equal(t, 2, res.Problems.Count(), res.Problems.List)
	require.Zero(t, res.Mismatches)
	require.NotNil(t, res.Objects)
	require.Len(t, res.Objects.Differences, 2, res.Objects.Differences)
	for _, d := range res.Objects.Differences {
		require.False(t, d.Fails, d)
		require.Contains(t, d.ExplainedBy, "object not created: ")
	}
	require.Equal(t, "policy p on public.visits missing after restore", res.Objects.Differences[0].What)
	require.Contains(t, res.Objects.Differences[0].ExplainedBy, "POLICY public.visits p")
	require.Equal(t, "materialized view public.patient_stats: 2 rows in the backup, not populated after restore", res.Objects.Differences[1].What)
	require.Contains(t, res.Objects.Differences[1].ExplainedBy, "MATERIALIZED VIEW DATA public.patient_stats")
}

// pg_dump never reads a materialized view's rows, so the backup role need not be allowed to; such a view is
// recorded without a count (-1) instead of failing the backup, and the drill compares only whether it is
// populated.
func TestInventorySkipsRowsOfUnreadableMaterializedView(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE visits(id int); INSERT INTO visits VALUES (1), (2);`)
	su := asSuperuser(t, src)
	exec1(t, su, `CREATE MATERIALIZED VIEW public.private_stats AS SELECT count(*) AS n FROM public.visits`)
	t.Cleanup(func() { exec1(t, su, `DROP MATERIALIZED VIEW IF EXISTS public.private_stats`) })
	o, _ := drillOf(t, src)
	require.Equal(t, []backup.MatViewRows{{Schema: "public", Name: "private_stats", Populated: true, Rows: -1}}, o.Inventory.MaterializedViews)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err)
	require.Empty(t, res.Objects.Differences)
	o.ID = time.Now().UnixNano()
	o.AfterRestore = scratchExec("REFRESH MATERIALIZED VIEW public.private_stats WITH NO DATA")
	_, err = backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "materialized view public.private_stats: populated in the backup, not populated after restore")
}

// A primary key's index goes with its constraint: when pg_restore could not add the constraint (one "object not
// created" problem), the index it would have built is tied to the same problem rather than failing the drill
// as a silent loss. A large object a restore problem lost stays a failing difference (data lost), tied to it.
func TestCompareInventoryTiesDependentObjectsToTheirProblem(t *testing.T) {
	t.Parallel()
	pk := []backup.SchemaObject{{Kind: "constraint", Schema: "public", Table: "visits", Name: "visits_pkey"},
		{Kind: "index", Schema: "public", Table: "visits", Name: "visits_pkey"}}
	expected := &backup.ObjectInventory{Objects: pk, LargeObjects: backup.LargeObjects{Count: 2}}
	actual := &backup.ObjectInventory{LargeObjects: backup.LargeObjects{Count: 1}}
	problems := backup.RestoreProblems{List: []backup.RestoreProblem{
		{Type: "CONSTRAINT", Object: "public.visits visits_pkey", Message: "could not create unique index"},
		{Type: "BLOB", Object: "59406", Message: "duplicate key", DataLost: true}}}
	c := backup.CompareInventory(expected, actual, problems, nil)
	require.Len(t, c.Differences, 3)
	for _, d := range c.Differences[:2] {
		require.False(t, d.Fails, d)
		require.Equal(t, problems.List[0].String(), d.ExplainedBy)
	}
	require.Equal(t, "constraint visits_pkey on public.visits missing after restore", c.Differences[0].What)
	require.Equal(t, "index public.visits_pkey missing after restore", c.Differences[1].What)
	require.Equal(t, backup.ObjectDifference{What: "large objects: 2 in the backup, 1 after restore", ExplainedBy: problems.List[1].String(), Fails: true}, c.Differences[2])
	require.Equal(t, 1, c.Failing())
}
