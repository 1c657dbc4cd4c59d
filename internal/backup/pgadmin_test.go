package backup_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
)

// Targets are compared by server and database name, not by string: a socket URL and 127.0.0.1 reach the same
// local cluster, so both count as the catalog.
func TestCheckRestoreTarget(t *testing.T) {
	t.Parallel()
	catalog := "postgres://postgres@/pisbackup?host=/var/run/postgresql"
	source := "postgres://clinic:s3cret@db.example:5432/pis?sslmode=require"
	for _, tc := range []struct {
		target string
		refuse string // "" = allowed
	}{
		{"postgres://x@127.0.0.1:5432/pisbackup", "catalog"},
		{"postgres://x@localhost/pisbackup", "catalog"},
		{"host=/tmp dbname=pisbackup", "catalog"},
		{"postgres://other:pw@db.example/pis", "clinic (source)"},
		{"postgres://other:pw@DB.EXAMPLE:5432/pis", "clinic (source)"},
		{"postgres://x@db.example/postgres", "system database"},
		{"postgres://x@db.example/pisbackup_drill_12", "reserved for restore drills"},
		{"postgres://x@db.example/pis_restored", ""},
		{"postgres://x@db.example:6543/pis", ""}, // another cluster on the same host
		{"postgres://x@127.0.0.1/pis", ""},       // the clinic database's name, but on another server
	} {
		err := backup.CheckRestoreTarget(tc.target, catalog, source)
		if tc.refuse == "" {
			require.NoError(t, err, tc.target)
			continue
		}
		require.ErrorContains(t, err, tc.refuse, tc.target)
		require.True(t, errors.Is(err, backup.ErrProtectedTarget), tc.target)
		require.NotContains(t, err.Error(), "s3cret")
	}
	err := backup.CheckRestoreTarget("postgres://x@db.example/bad;name", catalog, source)
	require.ErrorContains(t, err, "not allowed")
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	u, err := backup.WithDatabase("postgres://a:p%40ss@h:5433/pis?sslmode=require", "pis_restored")
	require.NoError(t, err)
	require.Equal(t, "postgres://a:p%40ss@h:5433/pis_restored?sslmode=require", u)
	loc, err := backup.Locate(u)
	require.NoError(t, err)
	require.Equal(t, backup.DBLocation{Server: "h:5433", Database: "pis_restored"}, loc)
	kv, err := backup.WithDatabase("host=/var/run/postgresql dbname=pis user=postgres", "scratch")
	require.NoError(t, err)
	loc, err = backup.Locate(kv)
	require.NoError(t, err)
	require.Equal(t, "scratch", loc.Database)
}

func TestCompareCounts(t *testing.T) {
	t.Parallel()
	exp := []backup.TableCount{{Schema: "public", Name: "a", Rows: 3}, {Schema: "public", Name: "b", Rows: 0}, {Schema: "public", Name: "gone", Rows: 1}}
	act := []backup.TableCount{{Schema: "public", Name: "a", Rows: 2}, {Schema: "public", Name: "b", Rows: 0}, {Schema: "public", Name: "new", Rows: 5}}
	checks, bad := backup.CompareCounts(exp, act)
	require.Equal(t, 3, bad)
	require.Equal(t, []backup.TableCheck{
		{Table: "public.a", Expected: 3, Actual: 2},
		{Table: "public.b", Expected: 0, Actual: 0, Match: true},
		{Table: "public.gone", Expected: 1, Actual: -1},
		{Table: "public.new", Expected: -1, Actual: 5},
	}, checks)
	_, bad = backup.CompareCounts(nil, act)
	require.Zero(t, bad, "nothing to contradict")
}

func TestParseLegacy(t *testing.T) {
	t.Parallel()
	tables, err := backup.ParseLegacy(strings.NewReader(`[{"model":"b.x","pk":1,"fields":{}},{"model":"a.y","pk":2,"fields":{"n":1}},{"model":"b.x","pk":3,"fields":{}}]`))
	require.NoError(t, err)
	require.Equal(t, []backup.TableCount{{Name: "a.y", Rows: 1}, {Name: "b.x", Rows: 2}}, tables)
	for in, want := range map[string]string{
		`[{"model":"b.x","pk":1,"fields":{}},{"model":"a`: "truncated",
		`{"model":"b.x"}`:                  "expected a JSON array",
		`[{"pk":1,"fields":{}}]`:           `lacks "model"`,
		`[{"model":"a.b","fields":{}}] []`: "data after the JSON array",
	} {
		_, err := backup.ParseLegacy(strings.NewReader(in))
		require.ErrorContains(t, err, want, in)
	}
}
