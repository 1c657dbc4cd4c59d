package backup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
)

// pg_restore's script output, as a drill reads it: quoted identifiers, a table without columns, a row longer
// than the reader's buffer; lines outside COPY blocks are not rows.
func TestReadArchiveContentReadsCopyBlocks(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	script := "SET client_encoding = 'LATIN1';\nSET search_path = '';\n" +
		"COPY public.a (id, note) FROM stdin;\n1\tone\n2\t\\N\n\\.\n" +
		"COPY \"Odd \"\"Schema\"\"\".\"T.1\" (\"a, b\", \"C\") FROM stdin;\nx\ty\n\\.\n" +
		"COPY public.nocols  FROM stdin;\n\n\n\\.\n" +
		"COPY public.big (v) FROM stdin;\n" + long + "\n\\.\n" +
		"COPY public.\"multi\nline\" (\"co\nl\") FROM stdin;\nv\n\\.\n" +
		"SELECT pg_catalog.setval('public.a_id_seq', 2, true);\n"
	ac, err := backup.ReadArchiveContent(strings.NewReader(script))
	require.NoError(t, err)
	require.Equal(t, "LATIN1", ac.Encoding)
	require.Len(t, ac.Tables, 5)
	require.Equal(t, []string{"co\nl"}, ac.Tables["public.multi\nline"].Columns, "a header spanning lines (a newline in a quoted name) is read, not skipped")
	a := ac.Tables["public.a"]
	require.Equal(t, int64(2), a.Rows)
	require.Equal(t, []string{"id", "note"}, a.Columns)
	odd := ac.Tables[`Odd "Schema".T.1`]
	require.NotNil(t, odd, ac.Tables)
	require.Equal(t, []string{"a, b", "C"}, odd.Columns)
	require.Equal(t, int64(1), odd.Rows)
	require.Equal(t, int64(2), ac.Tables["public.nocols"].Rows)
	require.Empty(t, ac.Tables["public.nocols"].Columns)
	require.Equal(t, int64(1), ac.Tables["public.big"].Rows)
	require.Equal(t, xxhash.Sum64String(long), ac.Tables["public.big"].Sum, "a row longer than the buffer is hashed whole")

	// The order of rows does not matter; their content does.
	swapped, err := backup.ReadArchiveContent(strings.NewReader("COPY public.a (id, note) FROM stdin;\n2\t\\N\n1\tone\n\\.\n"))
	require.NoError(t, err)
	require.Equal(t, a.Sum, swapped.Tables["public.a"].Sum)
	changed, err := backup.ReadArchiveContent(strings.NewReader("COPY public.a (id, note) FROM stdin;\n2\t\\N\n1\tOne\n\\.\n"))
	require.NoError(t, err)
	require.NotEqual(t, a.Sum, changed.Tables["public.a"].Sum)

	for _, bad := range []string{
		"COPY public.a (id) FROM stdin;\n1\n",                                           // cut off: no end marker
		"COPY a (id) FROM stdin;\n\\.\n",                                                // not schema-qualified
		"COPY public.\"a (id) FROM stdin;\n\\.\n",                                       // unterminated quote
		"COPY public.a (id,, x) FROM stdin;\n\\.\n",                                     // empty column name
		"COPY public.a id, x FROM stdin;\n\\.\n",                                        // no parentheses
		"INSERT INTO public.a VALUES (1);\n",                                            // data as INSERTs: not compared silently
		"COPY public.a (id) FROM stdin;\n\\.\nCOPY public.a (id, x) FROM stdin;\n\\.\n", // two blocks, other columns
	} {
		_, err := backup.ReadArchiveContent(strings.NewReader(bad))
		require.Error(t, err, "%q", bad)
	}
}

// The default backup no longer scans every table a second time to digest it (that cost a backup about 1.5× its
// wall time): only tables with stored generated columns, whose values the archive does not carry, are digested
// in the snapshot. The drill still compares every table's content, with the archive's own rows, under database
// settings that change how rows print (TimeZone, DateStyle, bytea_output, IntervalStyle, extra_float_digits), and
// a changed value in any table fails it by name.
func TestDrillComparesRowsWithTheArchive(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE TABLE "Visit ""Log"""(id int PRIMARY KEY, at timestamptz, d date, t time, f float8, r real, n numeric,
		  b bytea, i interval, m money, j jsonb, arr text[], note text, "odd col" text);
		INSERT INTO "Visit ""Log""" VALUES
		  (1, '2026-03-29 01:30+00', '2026-02-28', '23:59:59.5', 0.1, 1.5, 12345.6789, '\x00e9ff', '1 year 2 mons 3 days 04:05:06',
		   12.34, '{"a": [1, "é"]}', '{x,"y z",NULL}', E'tab\there\nnew line \\ back', 'ß'),
		  (2, NULL, NULL, NULL, 'NaN', '-Infinity', NULL, '', '-1 day', NULL, 'null', '{}', '', NULL);
		CREATE TABLE plain(id serial PRIMARY KEY, v text); INSERT INTO plain(v) SELECT 'row ' || g FROM generate_series(1, 50) g;
		INSERT INTO plain(v) VALUES (repeat('é\', 1500000));
		CREATE TABLE gen(id int, v int, w int GENERATED ALWAYS AS (v * 2) STORED); INSERT INTO gen VALUES (1, 1);
		DO $$BEGIN
		  EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), 'Pacific/Chatham');
		  EXECUTE format('ALTER DATABASE %I SET DateStyle = %L', current_database(), 'SQL, DMY');
		  EXECUTE format('ALTER DATABASE %I SET bytea_output = %L', current_database(), 'escape');
		  EXECUTE format('ALTER DATABASE %I SET IntervalStyle = %L', current_database(), 'iso_8601');
		  EXECUTE format('ALTER DATABASE %I SET extra_float_digits = %L', current_database(), '-3');
		END$$;`)
	o, _ := drillOf(t, src)
	for _, tc := range o.Expected {
		require.Equal(t, tc.Name == "gen", tc.Digest != "", "only the generated-column table is digested in the snapshot: %+v", tc)
	}
	require.Equal(t, "UTC", o.DumpSettings["TimeZone"])
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	require.Len(t, res.Tables, 3)
	for _, c := range res.Tables {
		require.Equal(t, "same", c.Content, c)
	}
	require.NotContains(t, res.Warnings, backup.ContentNotCompared)

	for _, tamper := range []struct{ sql, table string }{
		{`UPDATE "Visit ""Log""" SET at = at + interval '1 microsecond' WHERE id = 1`, `public.Visit "Log"`},
		{`UPDATE plain SET v = 'row 7 ' WHERE id = 7`, "public.plain"},
		{`UPDATE "Visit ""Log""" SET b = '\x00e9fe' WHERE id = 1`, `public.Visit "Log"`},
		{`UPDATE "Visit ""Log""" SET "odd col" = NULL WHERE id = 1`, `public.Visit "Log"`},
	} {
		o.ID++
		o.AfterRestore = func(ctx context.Context, scratch *dbconn.Settings) error {
			conn, err := scratch.Connect(ctx)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, tamper.sql)
			return err
		}
		res, err := backup.Drill(context.Background(), o)
		require.ErrorContains(t, err, tamper.table+" (content)", tamper.sql)
		for _, c := range res.Tables {
			require.Equal(t, c.Table == tamper.table, !c.Match, c)
		}
	}
}

// A backup whose manifest does not say in which settings its rows were written (an upload, or one taken
// before they were recorded) is still drilled, and the drill says its rows were not compared: it never
// claims a content check it did not make.
func TestDrillWithoutDumpSettingsSaysContentNotCompared(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE p(id int); INSERT INTO p VALUES (1);`)
	o, _ := drillOf(t, src)
	o.DumpSettings = nil
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err)
	require.Contains(t, res.Warnings, backup.ContentNotCompared)
	for _, c := range res.Tables {
		require.Empty(t, c.Content, c)
	}
}
