package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// Issue 22: `restore --create-roles` creates the roles a backup references and the restore server lacks
// (here: dropped since the backup), as NOLOGIN roles through ROLE_ADMIN_DATABASE_URL, so the grant and the
// policy restore too. Without that setting the restore is refused before anything is created, and the one
// line says which statements an administrator can run instead.
func TestRestoreCreateRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := cliEnv(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "i22_gone_" + hex.EncodeToString(b)
	adminExec(t, testdb.AdminURL, "CREATE ROLE "+role+" NOLOGIN")
	t.Cleanup(func() { adminExec(t, testdb.AdminURL, "DROP ROLE IF EXISTS "+role) })
	src := env["SOURCE_DATABASE_URL"]
	owner := func(sql string) { // as the clinic database's owner, so the backup role may read what it creates
		c, err := pgx.Connect(ctx, src)
		require.NoError(t, err)
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		require.NoError(t, err)
	}
	owner("CREATE TABLE guarded(x int); INSERT INTO guarded VALUES (1); GRANT SELECT ON guarded TO " + role +
		"; CREATE POLICY p ON guarded TO " + role + " USING (true)")
	t.Cleanup(func() { owner("DROP TABLE IF EXISTS guarded") })
	bk := cliBackup(t, env)
	owner("DROP POLICY p ON guarded; REVOKE ALL ON guarded FROM " + role)
	adminExec(t, testdb.AdminURL, "DROP ROLE "+role)

	id := strconv.FormatInt(bk.ID, 10)
	target := "pisbackup_i22_roles_" + hex.EncodeToString(b)
	t.Cleanup(func() { testdb.DropDatabase(t, target) }) // runs before the role is dropped
	_, stderr, code := runCLI(t, env, "restore", id, "--target-db", target, "--create-roles", "--yes")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "ROLE_ADMIN_DATABASE_URL is not set")
	require.Contains(t, stderr, `CREATE ROLE "`+role+`" NOLOGIN;`)
	admin := dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase("postgres")
	conn, err := admin.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", target).Scan(&exists))
	require.False(t, exists, "a refused restore creates nothing")

	env["ROLE_ADMIN_DATABASE_URL"] = testdb.AdminURL
	out, stderr, code := runCLI(t, env, "restore", id, "--target-db", target, "--create-roles", "--yes")
	require.Equal(t, 0, code, stderr+out)
	require.NotContains(t, out+stderr, "lacks role")
	var login bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role).Scan(&login))
	require.False(t, login)
	tconn, err := admin.WithDatabase(target).Connect(ctx)
	require.NoError(t, err)
	defer tconn.Close(ctx)
	var policies int
	require.NoError(t, tconn.QueryRow(ctx, "SELECT count(*) FROM pg_policies WHERE tablename = 'guarded' AND $1 = ANY(roles)", role).Scan(&policies))
	require.Equal(t, 1, policies, "the policy for the re-created role was restored")
	var canSelect bool
	require.NoError(t, tconn.QueryRow(ctx, "SELECT has_table_privilege($1, 'public.guarded', 'SELECT')", role).Scan(&canSelect))
	require.True(t, canSelect, "the grant was restored")
}
