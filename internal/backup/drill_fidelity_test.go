package backup_test

import (
	"context"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// sourceWith is a fresh empty database holding what sql creates.
func sourceWith(t *testing.T, sql string) string {
	t.Helper()
	src := testdb.Empty(t)
	conn, err := pgx.Connect(context.Background(), src)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
	return src
}

// The first input: a materialized view whose refresh calls a function that names its table without
// a schema fails to refresh under pg_restore's empty search_path. The stock recipe restores every table and
// leaves only the view unpopulated; so must a drill: it passes, names the view as an object not created,
// and every table's rows are there.
func TestDrillToleratesUnrefreshableMaterializedView(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE TABLE visits(id int, patient text); INSERT INTO visits VALUES (1,'p1');
		CREATE FUNCTION visit_count(p text) RETURNS bigint LANGUAGE sql STABLE
		  AS 'SELECT count(*) FROM visits WHERE patient=p';
		CREATE MATERIALIZED VIEW patient_stats AS SELECT patient, visit_count(patient) n FROM visits;
		CREATE TABLE other(x int); INSERT INTO other VALUES (1),(2);`)
	o, _ := drillOf(t, src)
	var populated bool
	var visits int64
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT relispopulated FROM pg_class WHERE relname = 'patient_stats'").Scan(&populated); err != nil {
			return err
		}
		return conn.QueryRow(ctx, "SELECT count(*) FROM visits").Scan(&visits)
	}
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, "a view that cannot be refreshed loses no data")
	require.Equal(t, int64(1), visits)
	require.False(t, populated, "only the view is left unpopulated")
	require.Equal(t, 1, res.Problems.Count(), res.Problems.List)
	require.Zero(t, res.Problems.DataLost)
	p := res.Problems.List[0]
	require.Equal(t, "MATERIALIZED VIEW DATA", p.Type)
	require.Contains(t, p.Object, "patient_stats")
	require.Contains(t, p.Message, `relation "visits" does not exist`)
	require.Equal(t, "object not created", p.Kind())
	require.Contains(t, res.Problems.Summary(), "restored with 1 problems")
	require.Zero(t, res.Mismatches)
}

// A problem that loses rows fails the drill and names the table: here the restore role may not run a
// function the table's data needs (a CHECK constraint calling a function that raises on restore).
func TestDrillFailsWhenTableDataIsLost(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE TABLE flags(on_restore boolean);
		CREATE FUNCTION refuse_restore(v int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
		  AS $$BEGIN IF current_setting('search_path') = '' THEN RAISE EXCEPTION 'refused during restore'; END IF; RETURN true; END$$;
		CREATE TABLE guarded(v int CHECK (public.refuse_restore(v)));
		INSERT INTO guarded VALUES (1);`)
	o, _ := drillOf(t, src)
	res, err := backup.Drill(context.Background(), o)
	require.Error(t, err)
	require.ErrorContains(t, err, "data lost")
	require.ErrorContains(t, err, "guarded")
	require.Positive(t, res.Problems.DataLost)
}

// The generated-column input: a_items is restored before z_rates, so rate_of() finds no rate and the
// restored factor is -1/-1 instead of 10/20. Counts match; the content digest taken in the dump's snapshot
// does not, and the drill fails naming the table.
func TestDrillComparesContentNotOnlyCounts(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE TABLE z_rates(code text PRIMARY KEY, factor int); INSERT INTO z_rates VALUES ('A',10),('B',20);
		CREATE FUNCTION rate_of(c text) RETURNS int IMMUTABLE LANGUAGE plpgsql
		  AS $$BEGIN RETURN coalesce((SELECT factor FROM public.z_rates WHERE code=c),-1); END$$;
		CREATE TABLE a_items(id int, code text, factor int GENERATED ALWAYS AS (rate_of(code)) STORED);
		INSERT INTO a_items VALUES (1,'A'),(2,'B');`)
	o, _ := drillOf(t, src)
	res, err := backup.Drill(context.Background(), o)
	require.Error(t, err)
	require.ErrorContains(t, err, "public.a_items (content)")
	require.NotContains(t, err.Error(), "z_rates")
	for _, c := range res.Tables {
		require.Equal(t, c.Table == "public.a_items", !c.Match, c)
		require.Equal(t, int64(2), c.Actual, "the counts alone agree")
	}
}

// Sequence values are compared: a restore that leaves a sequence behind its table's ids fails the drill.
func TestDrillComparesSequenceValues(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE s(id serial PRIMARY KEY); INSERT INTO s DEFAULT VALUES; INSERT INTO s DEFAULT VALUES;`)
	o, _ := drillOf(t, src)
	require.NotEmpty(t, o.Sequences, "the manifest records sequence values")
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "SELECT setval('public.s_id_seq', 1, false)")
		return err
	}
	_, err := backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "public.s_id_seq (sequence value)")
}

// Digests are independent of row order and of the session's output settings: the same content digests the
// same after a reorder, under another TimeZone/DateStyle, and a changed value changes the digest.
func TestContentDigestIsOrderAndSettingsIndependent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := sourceWith(t, `CREATE TABLE d(t timestamptz, f float8, b bytea, i interval);
		INSERT INTO d VALUES ('2026-01-01 10:00+01', 0.1, '\xe9', '1 day 2 hours'), ('2026-06-01 10:00+02', 1e300, '\x00', '3 months');`)
	digest := func(setup string) string {
		conn, err := pgx.Connect(ctx, src)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, setup)
		require.NoError(t, err)
		ts, err := backup.CountTables(ctx, conn, backup.DigestAll)
		require.NoError(t, err)
		require.Len(t, ts, 1)
		return ts[0].Digest
	}
	a := digest("SELECT 1")
	b := digest("SET TimeZone = 'America/New_York'; SET DateStyle = 'SQL, DMY'; SET bytea_output = 'escape'; SET IntervalStyle = 'iso_8601'; UPDATE d SET t = t WHERE f = 0.1")
	require.Equal(t, a, b)
	c := digest("UPDATE d SET f = 0.2 WHERE f = 0.1")
	require.NotEqual(t, a, c)
}

// GRANTs survive a restore: a read-only role keeps its SELECT on the restored database (restores ran with
// --no-acl before issue 22, so after switching to a restored database the nightly backup lost its access).
// A role the backup references but the target server lacks is named, and its grant and policy are
// "object not created" problems, not lost data. (pg_restore runs all grants of one object as one entry: a
// grant to a missing role also takes the other grants on that object with it, so t2 keeps none.)
func TestDrillKeepsGrantsAndNamesMissingRoles(t *testing.T) {
	t.Parallel()
	suffix := strings.ToLower(strings.ReplaceAll(t.Name(), "Test", ""))[:12] + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	reader, gone := "i22_reader_"+suffix, "i22_gone_"+suffix
	src := testdb.Empty(t)
	su := asSuperuser(t, src)
	exec1(t, su, `CREATE ROLE `+reader+` NOLOGIN; CREATE ROLE `+gone+` NOLOGIN;`)
	exec1(t, src, `CREATE TABLE t(x int); INSERT INTO t VALUES (1); GRANT SELECT ON t TO `+reader+`;
		CREATE TABLE t2(x int); INSERT INTO t2 VALUES (1); GRANT SELECT ON t2 TO `+gone+`;
		CREATE POLICY p ON t2 TO `+gone+` USING (true);`)
	t.Cleanup(func() {
		exec1(t, src, "REVOKE ALL ON t FROM "+reader)
		exec1(t, testdb.AdminURL, "DROP ROLE IF EXISTS "+reader+"; DROP ROLE IF EXISTS "+gone)
	})
	o, _ := drillOf(t, src)
	require.Contains(t, o.Roles, reader)
	require.Contains(t, o.Roles, gone)
	// The target server lacks the second role, as a fresh server would.
	exec1(t, src, `DROP POLICY p ON t2; REVOKE ALL ON t2 FROM `+gone)
	exec1(t, testdb.AdminURL, `DROP ROLE `+gone)
	var canRead bool
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.QueryRow(ctx, "SELECT has_table_privilege($1, 'public.t', 'SELECT')", reader).Scan(&canRead)
	}
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, "a missing role loses no rows")
	require.True(t, canRead, "the read-only role keeps its SELECT after restore: %v", res.Problems.List)
	require.Zero(t, res.Problems.DataLost)
	require.Equal(t, 2, res.Problems.Count(), res.Problems.List) // the policy and the grant
	for _, p := range res.Problems.List {
		require.Contains(t, p.Message, `role "`+gone+`" does not exist`)
	}
	require.Len(t, res.Warnings, 1)
	require.Contains(t, res.Warnings[0], "lacks role(s) "+gone)
}

// The manifest records the database's own properties: encoding, locale, settings and comment.
func TestManifestRecordsDatabaseProperties(t *testing.T) {
	t.Parallel()
	src := testdb.Empty(t)
	db := testdb.DatabaseName(t, src)
	exec1(t, asSuperuser(t, src), `ALTER DATABASE `+db+` SET search_path = public, extra; ALTER DATABASE `+db+` SET timezone = 'Europe/Berlin';
		COMMENT ON DATABASE `+db+` IS 'clinic records'`)
	st, err := storage.Open(context.Background(), "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	res, err := backup.DumpDatabase(context.Background(), backup.DumpOptions{BackupID: 1, Source: dbconn.MustParse(src),
		Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st})
	require.NoError(t, err)
	m := res.Manifest
	require.NotNil(t, m.Properties)
	require.Equal(t, "UTF8", m.Properties.Encoding)
	require.Equal(t, "clinic records", m.Properties.Comment)
	require.Equal(t, []string{"TimeZone=Europe/Berlin", "search_path=public, extra"}, m.Properties.Settings)
	require.NotEmpty(t, m.Properties.Collate)
	require.NotEmpty(t, m.Properties.LocaleProvider)
}

// sourceCreatedAs is a fresh database created by the superuser with opts (ENCODING, LOCALE_PROVIDER …),
// owned by the test role, dropped at the end; sql runs in it as that role.
func sourceCreatedAs(t *testing.T, opts, sql string) string {
	t.Helper()
	base := testdb.Empty(t)
	name := "i22_src_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	exec1(t, testdb.AdminURL, "CREATE DATABASE "+name+" TEMPLATE template0 "+opts+" OWNER "+testdb.UserName(t, base))
	t.Cleanup(func() { testdb.DropDatabase(t, name) })
	u, err := neturl.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	src := u.String()
	exec1(t, src, sql)
	return src
}

// An ICU de-DE database sorts a,ä,B,Z; the drill's scratch database is created with the source's locale
// provider and ICU locale, so it sorts the same (before issue 22 it sorted B,Z,a,ä under C), and the
// source's ALTER DATABASE … SET settings come back.
func TestDrillRecreatesICULocaleAndSettings(t *testing.T) {
	t.Parallel()
	src := sourceCreatedAs(t, "ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LC_COLLATE 'C' LC_CTYPE 'C'",
		`CREATE TABLE w(x text); INSERT INTO w VALUES ('Z'),('ä'),('B'),('a');`)
	exec1(t, testdb.AdminURL, "ALTER DATABASE "+testdb.DatabaseName(t, src)+" SET search_path = public, extra")
	o, _ := drillOf(t, src)
	require.Equal(t, "icu", o.Properties.LocaleProvider)
	var order, searchPath string
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&searchPath); err != nil {
			return err
		}
		return conn.QueryRow(ctx, "SELECT string_agg(x, ',' ORDER BY x) FROM w").Scan(&order)
	}
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res.Warnings)
	require.Equal(t, "a,ä,B,Z", order)
	require.Equal(t, "public, extra", searchPath)
	require.Empty(t, res.Warnings)
}

// A SQL_ASCII database holding byte 0xE9 restores into a SQL_ASCII scratch database with the same content;
// before issue 22 the scratch database was UTF8 and the row could not be restored as valid text.
func TestDrillRecreatesSQLASCIIEncoding(t *testing.T) {
	t.Parallel()
	src := sourceCreatedAs(t, "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'",
		`CREATE TABLE b(x text); INSERT INTO b VALUES (E'caf\xe9');`)
	o, _ := drillOf(t, src)
	require.Equal(t, "SQL_ASCII", o.Properties.Encoding)
	var enc, hex string
	o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
		conn, err := scratch.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.QueryRow(ctx, "SELECT pg_encoding_to_char(encoding), (SELECT encode(x::bytea, 'hex') FROM b) FROM pg_database WHERE datname = current_database()").Scan(&enc, &hex)
	}
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res.Warnings)
	require.Equal(t, "SQL_ASCII", enc)
	require.Equal(t, "636166e9", hex)
	require.Zero(t, res.Problems.Count())
}
