package backup_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// tamperWith is an AfterRestore hook that runs sql in the scratch database.
func tamperWith(sql string) func(ctx context.Context, scratch *dbconn.Settings) error {
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

// pg_dump runs with an empty search_path, so a regclass, regproc or regtype value naming a user object prints
// schema-qualified in the archive ("public.visits"). The drill must read the restored rows the same way, not
// in the scratch database's default search_path (which prints "visits"): a faithful restore is not a content
// difference, in a plain table or in one digested in the snapshot (stored generated column).
func TestDrillContentOfRegclassColumns(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE TABLE visits(id int); CREATE TYPE mood AS ENUM ('ok');
		CREATE TABLE refs(id int, r regclass, p regproc, ty regtype);
		INSERT INTO refs VALUES (1, 'visits', 'now', 'mood');
		CREATE TABLE grefs(id int, r regclass, g int GENERATED ALWAYS AS (id * 2) STORED);
		INSERT INTO grefs VALUES (1, 'visits');`)
	o, _ := drillOf(t, src)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	for _, c := range res.Tables {
		require.True(t, c.Match, c)
	}
}

// A table hash-partitioned on an enum column is dumped through its root (pg_dump forces
// --load-via-partition-root: the enum's OIDs, and so the hash, differ in the restored database), so the
// archive's COPY names the partitioned root and a row may land in another partition after restore. The drill
// compares the root's rows as a whole; a faithful restore passes and a changed row still fails it by name.
func TestDrillContentOfEnumHashPartitions(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE TYPE color AS ENUM ('red', 'green', 'blue', 'cyan', 'magenta', 'yellow');
		CREATE TABLE ph(c color, v int) PARTITION BY HASH (c);
		CREATE TABLE ph0 PARTITION OF ph FOR VALUES WITH (MODULUS 3, REMAINDER 0);
		CREATE TABLE ph1 PARTITION OF ph FOR VALUES WITH (MODULUS 3, REMAINDER 1);
		CREATE TABLE ph2 PARTITION OF ph FOR VALUES WITH (MODULUS 3, REMAINDER 2);
		INSERT INTO ph SELECT (enum_range(NULL::color))[1 + g % 6], g FROM generate_series(1, 60) g;
		INSERT INTO ph SELECT 'red', g FROM generate_series(100, 130) g;`)
	o, _ := drillOf(t, src)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	o.ID++
	o.AfterRestore = tamperWith(`UPDATE ph SET v = -v WHERE v = 7`)
	_, err = backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "public.ph (content)")
}

// A LATIN1 database's archive names its tables in LATIN1: each restored table is still one check, named as
// the rest of the drill names it, its content compared, and a change to it fails the drill.
func TestDrillContentOfLatin1Names(t *testing.T) {
	t.Parallel()
	src := sourceCreatedAs(t, "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'",
		`SET client_encoding = 'UTF8'; CREATE SCHEMA "été"; CREATE TABLE "été"."café"("crème" text); INSERT INTO "été"."café" VALUES ('brûlée'), ('ÿ');`)
	o, _ := drillOf(t, src)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	require.Len(t, res.Tables, 1, res.Tables)
	require.Equal(t, "été.café", res.Tables[0].Table)
	require.Equal(t, "same", res.Tables[0].Content)
	o.ID++
	o.AfterRestore = tamperWith(`SET client_encoding = 'UTF8'; UPDATE "été"."café" SET "crème" = 'brulee' WHERE "crème" = 'brûlée'`)
	_, err = backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "été.café (content)")
}

// An identifier may hold a newline, and pg_dump prints it inside the quotes: the archive's COPY statement then
// spans lines. Its rows must still be compared (before, the statement was not recognised, the table's rows were
// silently left out of the content check, and a changed value passed); a quoted name that does not close is
// still an error.
func TestDrillContentOfNamesWithNewlines(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, "CREATE SCHEMA \"s\n1\"; CREATE TABLE \"s\n1\".\"a\nb\"(\"c\nd\" text, e int); INSERT INTO \"s\n1\".\"a\nb\" VALUES ('x', 1), ('y', 2);")
	o, _ := drillOf(t, src)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	require.Len(t, res.Tables, 1)
	require.Equal(t, "same", res.Tables[0].Content, res.Tables[0])
	o.ID++
	o.AfterRestore = tamperWith("UPDATE \"s\n1\".\"a\nb\" SET \"c\nd\" = 'z' WHERE e = 2")
	_, err = backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "(content)")

	ac, err := backup.ReadArchiveContent(strings.NewReader("COPY public.\"a\n\nb\" (\"c\nd\", e) FROM stdin;\nx\t1\n\\.\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"c\nd", "e"}, ac.Tables["public.a\n\nb"].Columns)
	require.Equal(t, int64(1), ac.Tables["public.a\n\nb"].Rows)
	for _, bad := range []string{
		"COPY public.\"a\nx\t1\n\\.\n",                              // the quote never closes
		"COPY public.a (x) FROM stdin WITH (FORMAT csv);\n1\n\\.\n", // a form the reader does not know
	} {
		_, err = backup.ReadArchiveContent(strings.NewReader(bad))
		require.Error(t, err, "%q", bad)
	}
}

// The source's lc_monetary (recorded with the dump) may name a locale the drill's server does not have (a
// drill on another server). Before, setting it failed for every table, the error was dropped and every table
// "differed", money or not. Now the rows are read in the server's own lc_monetary, the drill says so, and a
// faithful restore passes (a money value the restore parsed differently would still differ).
func TestDrillContentWhenLcMonetaryIsMissing(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE plain(id int); INSERT INTO plain VALUES (1);
		CREATE TABLE fees(id int, m money); INSERT INTO fees VALUES (1, 12.34), (2, -1234567.89);`)
	o, _ := drillOf(t, src)
	o.DumpSettings["lc_monetary"] = "xx_NOPE.UTF-8"
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	for _, c := range res.Tables {
		require.Equal(t, "same", c.Content, c)
	}
	require.True(t, slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "xx_NOPE.UTF-8") }), res.Warnings)
}

// A table with FORCE ROW LEVEL SECURITY, dumped by a role that bypasses it, restores whole (its policies come
// after its rows), but the restore role owns it and FORCE holds an owner to the policies: the drill read one row
// of two and failed a faithful restore. It reads past them now (undone with its transaction), and the table's
// forced security is still there afterwards.
func TestDrillContentOfForcedRowSecurity(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE rl(a int); INSERT INTO rl VALUES (1),(2);
		ALTER TABLE rl ENABLE ROW LEVEL SECURITY; ALTER TABLE rl FORCE ROW LEVEL SECURITY;
		CREATE POLICY p ON rl USING (a = 1);`)
	o, _ := drillOf(t, testdb.LoginRole(t, src, "SUPERUSER"))
	var forced bool
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.QueryRow(ctx, "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'rl'").Scan(&forced)
	}
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	require.True(t, forced)
	require.Equal(t, backup.TableCheck{Table: "public.rl", Expected: 2, Actual: 2, Content: "same", Match: true}, res.Tables[0])
	require.Zero(t, res.Objects.Failing(), "the forced row security is still there")
}

// The source's ALTER DATABASE … SET settings are re-applied to the drill's scratch database before the restore
// (pg_restore's script turns the timeouts off for itself, as pg_dump does). A clinic database with a
// statement_timeout (common behind Django and Heroku) or default_transaction_read_only then made the content
// check fail a faithful restore: a table whose COPY outlasted the timeout "could not be read" and differed, and
// a forced-row-security table could not be read past its policies in a read-only transaction. The check turns
// them off for its own reads, as pg_dump does.
func TestDrillContentIgnoresTheSourcesTimeoutsAndReadOnlyDefault(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE big(id int, v text); INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g;
		CREATE TABLE rl(a int); INSERT INTO rl VALUES (1),(2);
		ALTER TABLE rl ENABLE ROW LEVEL SECURITY; ALTER TABLE rl FORCE ROW LEVEL SECURITY;
		CREATE POLICY p ON rl USING (a = 1);`)
	o, _ := drillOf(t, testdb.LoginRole(t, src, "SUPERUSER"))
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		// As applySettings leaves them when the source had them.
		_, err = conn.Exec(ctx, `DO $$BEGIN
			EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '1ms');
			EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L', current_database(), '1ms');
			EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = %L', current_database(), 'on');
		END$$`)
		return err
	}
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	for _, c := range res.Tables {
		require.Equal(t, "same", c.Content, c)
		require.True(t, c.Match, c)
	}
}

// With RESTORE_ALLOW_SUPERUSER a drill restores as a superuser, so an event trigger in the dump exists in the
// scratch database. The content check must not run DDL there (its NO FORCE ROW LEVEL SECURITY is for an owner
// held to its policies; a superuser reads past them anyway): no event trigger fires as the superuser, and the
// forced table's rows are still compared.
func TestDrillContentRunsNoDDLAsSuperuser(t *testing.T) {
	t.Parallel()
	src := testdb.Empty(t)
	exec1(t, asSuperuser(t, src), `
		CREATE TABLE f(id int); INSERT INTO f VALUES (1), (2);
		ALTER TABLE f ENABLE ROW LEVEL SECURITY; ALTER TABLE f FORCE ROW LEVEL SECURITY;
		CREATE POLICY only_one ON f USING (id = 1);
		CREATE FUNCTION public.no_ddl() RETURNS event_trigger LANGUAGE plpgsql
		  AS $$BEGIN RAISE EXCEPTION 'an event trigger fired as %', current_user; END$$;
		CREATE EVENT TRIGGER no_ddl ON ddl_command_start EXECUTE FUNCTION public.no_ddl();`)
	o, _ := drillOf(t, asSuperuser(t, src))
	g := o.Guard
	g.Admin = dbconn.MustParse(testdb.AdminURL)
	g.AllowPowerful = true
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	found := false
	for _, c := range res.Tables {
		if c.Table == "public.f" {
			found = true
			require.Equal(t, "same", c.Content, c)
			require.Equal(t, int64(2), c.Actual)
		}
	}
	require.True(t, found, res.Tables)
	for _, w := range res.Warnings {
		require.NotContains(t, w, "event trigger fired", w)
	}
}
