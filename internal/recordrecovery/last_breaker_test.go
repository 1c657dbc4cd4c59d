package recordrecovery_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/recordrecovery"
)

// A table whose name holds a line break (CR or LF) ended the "-- insert TABLE KEY" comment of the
// reviewable SQL script early: the rest of the name ran as SQL when an admin ran the script with psql.
// Whoever can create a table in the clinic database could thereby have the admin's role run anything.
func TestSQLScriptCommentsCannotBeBrokenOutOf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, nl := range []string{"\n", "\r"} {
		name := "x" + nl + "CREATE TABLE pwned_by_name (i int);--"
		f := newFixture(t,
			`CREATE TABLE "`+name+`" (id integer PRIMARY KEY, patient_id bigint REFERENCES patients_patient (id))`,
			`INSERT INTO "`+name+`" VALUES (1, 2)`,
		)
		f = f.rebackup(t)
		f.exec(t, `DELETE FROM "`+name+`"`)
		o := f.opts
		o.Table, o.Keys, o.WithRelated = "public."+name, []recordrecovery.Key{keyOf(t, "id=1")}, false
		d, err := recordrecovery.Compare(ctx, o)
		require.NoError(t, err)
		p, err := recordrecovery.NewPlan(d, false)
		require.NoError(t, err)
		require.Len(t, p.Steps, 1)
		file := filepath.Join(t.TempDir(), "r.sql")
		require.NoError(t, os.WriteFile(file, []byte(p.SQL("table "+d.Table)), 0o600))
		out, err := exec.Command("psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", f.src, "-f", file).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Equal(t, 0, f.count(t, `SELECT count(*) FROM pg_class WHERE relname = 'pwned_by_name'`), "the script ran SQL from a table name: %q", p.SQL("table "+d.Table))
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM "`+name+`"`))
	}
}

// Undo deletes the rows a recovery inserted. A row the clinic added since, pointing at one of them through
// a foreign key ON DELETE CASCADE (or SET NULL), was deleted (or changed) with it: the undo took away work
// it never wrote. It refuses instead, naming the rows that point at it, and writes nothing.
func TestUndoNeverCascadesIntoRowsAddedSince(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t,
		`CREATE TABLE u_par (id integer PRIMARY KEY, name text)`,
		`CREATE TABLE u_cascade (id integer PRIMARY KEY, par_id integer REFERENCES u_par (id) ON DELETE CASCADE, body text)`,
		`CREATE TABLE u_setnull (id integer PRIMARY KEY, par_id integer REFERENCES u_par (id) ON DELETE SET NULL)`,
		`INSERT INTO u_par VALUES (1, 'one'), (2, 'two')`,
	)
	f = f.rebackup(t)
	for i, c := range []struct{ child, sql string }{
		{"u_cascade", `INSERT INTO u_cascade VALUES (10, 1, 'written after the recovery')`},
		{"u_setnull", `INSERT INTO u_setnull VALUES (20, 2)`},
	} {
		par := int64(i + 1)
		f.exec(t, `DELETE FROM u_par WHERE id = $1`, par)
		o := f.opts
		o.ID += int64(i) + 300
		o.Table, o.Keys = "u_par", []recordrecovery.Key{keyOf(t, "id="+itoa(par))}
		touched, undo, err := f.apply(t, o, false)
		require.NoError(t, err)
		require.Len(t, touched, 1)
		f.exec(t, c.sql)
		_, err = recordrecovery.Reverse(ctx, f.opts.Live, undo, hashes(touched))
		require.Error(t, err, "undo of %s", c.child)
		require.ErrorContains(t, err, c.child)
		require.ErrorContains(t, err, "nothing was undone")
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM `+c.child+` WHERE par_id = $1`, par), "the row added since is untouched")
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM u_par WHERE id = $1`, par))
	}
}

// A sequence restarted ahead of its table (ALTER SEQUENCE … RESTART, setval(…, false): is_called false) reads
// as NULL in pg_sequence_last_value; the recovery took that for 0 and set the sequence back to the recovered
// id, so the clinic's next inserts were handed ids below the restart point again.
func TestRecoveryNeverMovesASequenceBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t,
		`CREATE TABLE s_items (id bigserial PRIMARY KEY, name text)`,
		`INSERT INTO s_items (name) VALUES ('one'), ('two'), ('three')`,
	)
	f = f.rebackup(t)
	f.exec(t, `DELETE FROM s_items WHERE id = 3`)
	f.exec(t, `ALTER SEQUENCE s_items_id_seq RESTART WITH 100000`)
	o := f.opts
	o.Table, o.Keys = "s_items", []recordrecovery.Key{keyOf(t, "id=3")}
	touched, _, err := f.apply(t, o, false)
	require.NoError(t, err)
	require.Len(t, touched, 1)
	var next int64
	require.NoError(t, f.live.QueryRow(ctx, `SELECT nextval('s_items_id_seq')`).Scan(&next))
	require.GreaterOrEqual(t, next, int64(100000), "the recovery moved the sequence back")

	// A sequence behind the recovered id is still advanced past it, called or not.
	for i, reset := range []string{`SELECT setval('s_items_id_seq', 1)`, `SELECT setval('s_items_id_seq', 3, false)`} {
		f.exec(t, `DELETE FROM s_items WHERE id = 3`)
		f.exec(t, reset)
		o.ID += int64(i) + 1
		_, _, err = f.apply(t, o, false)
		require.NoError(t, err)
		require.NoError(t, f.live.QueryRow(ctx, `SELECT nextval('s_items_id_seq')`).Scan(&next))
		require.Equal(t, int64(4), next, reset)
	}
}
