package backup_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
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
	o.AfterRestore = func(ctx context.Context, scratch string) error {
		conn, err := pgx.Connect(ctx, scratch)
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
