package recordrecovery

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
)

// An apply (or undo) whose context ends before COMMIT writes nothing and says so; a COMMIT the server refuses
// (a deferred constraint) says nothing was written; a commit that goes through is never cut off by a
// cancellation arriving during it.
func TestCommitNeverLiesAboutWhatWasWritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.Empty(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE p(id int PRIMARY KEY);
		CREATE TABLE c(id int, p int REFERENCES p DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	count := func(table string) (n int) {
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		return n
	}

	cctx, cancel := context.WithCancel(ctx)
	tx, err := conn.Begin(cctx)
	require.NoError(t, err)
	_, err = tx.Exec(cctx, "INSERT INTO p VALUES (1)")
	require.NoError(t, err)
	cancel()
	err = commit(cctx, tx)
	require.ErrorContains(t, err, "stopped before committing: nothing was written")
	_ = tx.Rollback(ctx)
	require.Zero(t, count("p"))

	tx, err = conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO c VALUES (1, 42)")
	require.NoError(t, err)
	err = commit(ctx, tx)
	require.ErrorContains(t, err, "the server refused the commit: nothing was written")
	require.Zero(t, count("c"))

	tx, err = conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO p VALUES (2)")
	require.NoError(t, err)
	require.NoError(t, commit(ctx, tx))
	require.Equal(t, 1, count("p"))
}
