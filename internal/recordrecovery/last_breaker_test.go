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
