package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// --sql-out is checked before anything runs: an existing file is never overwritten (it may be anything, and
// an existing file keeps its own, perhaps world-readable, mode while it receives patients' rows), and a path
// in a missing directory fails at once rather than after the whole recovery, which the catalog then recorded
// as a script written.
func TestRecoverSQLOutCheckedFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := cliEnv(t)
	b := cliBackup(t, env)
	bid := strconv.FormatInt(b.ID, 10)
	catalog, err := pgx.Connect(ctx, env["DATABASE_URL"])
	require.NoError(t, err)
	defer catalog.Close(ctx)
	recoveries := func() int {
		var n int
		require.NoError(t, catalog.QueryRow(ctx, `SELECT count(*) FROM recoveries`).Scan(&n))
		return n
	}

	dir := t.TempDir()
	existing := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(existing, []byte("keep me\n"), 0o644))
	_, stderr, code := runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", "id=1", "--sql-out", existing)
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "--sql-out")
	got, err := os.ReadFile(existing)
	require.NoError(t, err)
	require.Equal(t, "keep me\n", string(got), "an existing file was overwritten")
	require.Equal(t, 0, recoveries(), "the recovery ran although its script could not be written")

	_, stderr, code = runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", "id=1", "--sql-out", filepath.Join(dir, "missing", "r.sql"))
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "--sql-out")
	require.Equal(t, 0, recoveries(), "the recovery ran although its script could not be written")

	ok := filepath.Join(dir, "r.sql")
	out, stderr, code := runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", "id=1", "--sql-out", ok)
	require.Equal(t, 0, code, stderr+out)
	st, err := os.Stat(ok)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// A key that matches no row anywhere says so, instead of only counting zeros.
	out, stderr, code = runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", "id=987654321")
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "no row of public.patients_patient matches the selection")
}
