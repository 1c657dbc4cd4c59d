package backup_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
)

// WithDatabase keeps server, user, password and options, whatever form the setting was written in.
func TestWithDatabase(t *testing.T) {
	t.Parallel()
	u := dbconn.MustParse("postgres://a:p%40ss@h:5433/pis?sslmode=require").WithDatabase("pis_restored")
	require.Equal(t, "pis_restored", u.Database())
	require.Equal(t, "postgres://a:xxxxx@h:5433/pis_restored?sslmode=require", u.String())
	require.Equal(t, "p@ss", u.ConnConfig().Password)
	kv := dbconn.MustParse("host=/var/run/postgresql dbname=pis user=postgres").WithDatabase("scratch")
	require.Equal(t, "scratch", kv.Database())
	require.Equal(t, "/var/run/postgresql", kv.Host())
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
