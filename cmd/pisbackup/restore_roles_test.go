package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/storage"
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
	// A restore that fails after it created roles says which roles it left on the server: they outlive the
	// dropped target, and an administrator must be able to find and drop them.
	stored := filepath.Join(strings.TrimPrefix(env["BACKUP_STORAGE"], "file://"), bk.StorageKey)
	good, err := os.ReadFile(stored)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stored, []byte("not an archive"), 0o600))
	out, stderr, code := runCLI(t, env, "restore", id, "--target-db", target, "--create-roles", "--yes")
	require.Equal(t, 1, code, stderr+out)
	require.Contains(t, out, ": failed")
	require.Contains(t, out, role, "the failed restore names the role it created")
	require.Contains(t, out, `DROP ROLE "`+role+`"`)
	require.NoError(t, os.WriteFile(stored, good, 0o600))
	adminExec(t, testdb.AdminURL, "DROP ROLE "+role)

	out, stderr, code = runCLI(t, env, "restore", id, "--target-db", target, "--create-roles", "--yes")
	require.Equal(t, 0, code, stderr+out)
	require.NotContains(t, out+stderr, "lacks role")
	require.Contains(t, out, role, "the restore names the role it created")
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

// Issue 22: a database backup carries its cluster's global objects (pg_dumpall --globals-only
// --no-role-passwords), sealed beside the dump: `show-globals` prints them after checking the stored object
// against the catalog; they hold the roles and no password; deleting the backup deletes them too; a tampered
// object is refused.
func TestBackupCarriesGlobalObjects(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	bk := cliBackup(t, env)
	id := strconv.FormatInt(bk.ID, 10)
	out, stderr, code := runCLI(t, env, "show-globals", id)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "CREATE ROLE "+testdb.OwnerRole+";")
	require.Contains(t, out, "CREATE ROLE "+testdb.Role+";")
	require.NotContains(t, out, "SCRAM-SHA-256$", "no password hashes")
	require.NotContains(t, out, "PASSWORD")

	root := strings.TrimPrefix(env["BACKUP_STORAGE"], "file://")
	globals := filepath.Join(root, storage.GlobalsKey(bk.StorageKey))
	sealed, err := os.ReadFile(globals)
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "CREATE ROLE", "stored encrypted")
	require.NoError(t, os.WriteFile(globals, append(sealed, 'x'), 0o600))
	_, stderr, code = runCLI(t, env, "show-globals", id)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "size mismatch")
	require.NoError(t, os.WriteFile(globals, sealed, 0o600))
}

// A full backup's global objects are its database part's: `show-globals` of the full backup prints them (as
// the restore of a full backup points at its parts), not "taken before pisbackup stored global objects".
func TestShowGlobalsOfFullBackup(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	_, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	out, stderr, code := runCLI(t, env, "create-backup", "--type", "full", "--json")
	require.Equal(t, 0, code, stderr+out)
	var full backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &full), out)
	out, stderr, code = runCLI(t, env, "show-globals", strconv.FormatInt(full.ID, 10))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "CREATE ROLE "+testdb.OwnerRole+";")
}
