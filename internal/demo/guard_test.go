package demo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// Issue 13 §5: demo-seed replaced the tables of whatever database SOURCE_DATABASE_URL named. A database that
// holds a real clinic's table (same name as the demo's) is refused and keeps its rows; an empty one is seeded
// and marked, and a marked one may be seeded again.
func TestSeedWritesOnlyIntoEmptyOrDemoDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	real := testdb.Empty(t)
	conn, err := pgx.Connect(ctx, real)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE patients_patient (id int PRIMARY KEY, name text); INSERT INTO patients_patient VALUES (1, 'Real Patient')`)
	require.NoError(t, err)

	_, err = demo.Seed(ctx, dbconn.MustParse(real), demo.Options{Patients: 5})
	require.ErrorIs(t, err, demo.ErrNotDemo)
	require.ErrorContains(t, err, "is not marked as demo data")
	var name string
	require.NoError(t, conn.QueryRow(ctx, `SELECT name FROM patients_patient WHERE id = 1`).Scan(&name))
	require.Equal(t, "Real Patient", name, "the real table is untouched")

	// A function alone (no tables) is still somebody's database.
	fn := testdb.Empty(t)
	c2, err := pgx.Connect(ctx, fn)
	require.NoError(t, err)
	defer c2.Close(ctx)
	_, err = c2.Exec(ctx, `CREATE FUNCTION keep() RETURNS int LANGUAGE sql AS 'SELECT 1'`)
	require.NoError(t, err)
	_, err = demo.Seed(ctx, dbconn.MustParse(fn), demo.Options{Patients: 5})
	require.ErrorIs(t, err, demo.ErrNotDemo)

	empty := testdb.Empty(t)
	_, err = demo.Seed(ctx, dbconn.MustParse(empty), demo.Options{Patients: 5})
	require.NoError(t, err)
	var mark string
	c3, err := pgx.Connect(ctx, empty)
	require.NoError(t, err)
	defer c3.Close(ctx)
	require.NoError(t, c3.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()`).Scan(&mark))
	require.Equal(t, demo.DatabaseMark, mark)
	_, err = demo.Seed(ctx, dbconn.MustParse(empty), demo.Options{Patients: 7})
	require.NoError(t, err, "a database demo-seed marked may be rebuilt")
}

// Issue 13 §5: demo-seed rewrote every file under MEDIA_ROOT (a real reports/feedback_summary_2025_q1.csv became
// demo CSV). A folder holding anything without the demo mark is refused and left byte for byte.
func TestSeedMediaWritesOnlyIntoEmptyOrDemoFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real := filepath.Join(dir, "reports", "feedback_summary_2025_q1.csv")
	require.NoError(t, os.MkdirAll(filepath.Dir(real), 0o755))
	require.NoError(t, os.WriteFile(real, []byte("clinic,real\n"), 0o600))
	_, err := demo.SeedMedia(dir, 1)
	require.ErrorIs(t, err, demo.ErrNotDemo)
	require.ErrorContains(t, err, demo.MediaMark)
	got, err := os.ReadFile(real)
	require.NoError(t, err)
	require.Equal(t, "clinic,real\n", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing was added")

	// A missing folder is created and marked; seeding it again is fine.
	fresh := filepath.Join(t.TempDir(), "media")
	paths, err := demo.SeedMedia(fresh, 1)
	require.NoError(t, err)
	require.Contains(t, paths, demo.MediaMark)
	_, err = demo.SeedMedia(fresh, 1)
	require.NoError(t, err)

	// A directory that is a symbolic link out of a demo folder does not lead writes out of it.
	outside := t.TempDir()
	require.NoError(t, os.RemoveAll(filepath.Join(fresh, "reports")))
	require.NoError(t, os.Symlink(outside, filepath.Join(fresh, "reports")))
	_, err = demo.SeedMedia(fresh, 1)
	require.Error(t, err)
	entries, err = os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written through the link")
}
