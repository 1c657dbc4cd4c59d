package backup_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
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
