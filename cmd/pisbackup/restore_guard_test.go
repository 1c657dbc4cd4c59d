package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// clinicNamedAfterRole creates a CREATEDB-only login role and a demo clinic database with the same name, owned
// by it, and removes both when the test ends. A connection string without a database name reaches it: the
// server defaults the database to the user name.
func clinicNamedAfterRole(t *testing.T) (name, noDB, live string) {
	t.Helper()
	role := testdb.LoginRole(t, testdb.AdminURL, "NOSUPERUSER CREATEDB")
	name = testdb.UserName(t, role)
	adminExec(t, testdb.AdminURL, "CREATE DATABASE "+name+" OWNER "+name)
	t.Cleanup(func() { testdb.DropDatabase(t, name) }) // before LoginRole's cleanup drops the role
	u, err := url.Parse(role)
	require.NoError(t, err)
	u.Path = ""
	noDB = u.String()
	u.Path = "/" + name
	live = u.String()
	_, err = demo.Seed(context.Background(), dbconn.MustParse(live), demo.Options{Patients: 20})
	require.NoError(t, err)
	return name, noDB, live
}

// Issue 13 §3, verbatim: SOURCE_DATABASE_URL=postgres://clinic:pw@host:5432 (no database name: the server uses
// "clinic"), then `pisbackup restore ID --target-db clinic --yes` dropped and rebuilt the live clinic database,
// because the guard compared the URL's empty path with the name. The server says which database the source
// is; the restore is refused and the clinic's data is untouched.
func TestRestoreRefusesSourceNamedOnlyByServerDefaults(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	clinic, noDB, live := clinicNamedAfterRole(t)
	env["SOURCE_DATABASE_URL"] = noDB // postgres://clinic:pw@host:port?sslmode=disable: no database name
	b := cliBackup(t, env)
	// A patient registered after the backup: replacing the database with the backup would lose them.
	conn, err := pgx.Connect(context.Background(), live)
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE TABLE registered_after_backup (x int); INSERT INTO registered_after_backup VALUES (1)")
	require.NoError(t, err)
	conn.Close(context.Background())
	before := testdb.TableDigests(t, dbconn.MustParse(live))

	_, stderr, code := runCLI(t, env, "restore", strconv.FormatInt(b.ID, 10), "--target-db", clinic, "--yes")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "clinic (source) database")
	require.Equal(t, before, testdb.TableDigests(t, dbconn.MustParse(live)), "the live clinic database is untouched")
	// Not even the administrator's flag plus the typed name replaces the source.
	_, stderr, code = runCLI(t, env, "restore", strconv.FormatInt(b.ID, 10), "--target-db", clinic, "--replace-unowned", "--confirm", clinic)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "clinic (source) database")
	require.Equal(t, before, testdb.TableDigests(t, dbconn.MustParse(live)))
}

// An existing database pisbackup did not create is replaced only with the administrator's --replace-unowned and
// the typed name (--yes is not enough); one holding another installation's catalog never.
func TestRestoreIntoUnownedDatabaseNeedsFlagAndTypedName(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	b := cliBackup(t, env)
	id := strconv.FormatInt(b.ID, 10)
	// The restore role must own a database to drop it, and owning one pisbackup did not create makes it unfit
	// for drills; so this test has a restore role of its own, owning the one database it is told to replace.
	restoreRole := testdb.LoginRole(t, env["SOURCE_DATABASE_URL"], "CREATEDB")
	env["RESTORE_DATABASE_URL"] = restoreRole
	name := testdb.UserName(t, restoreRole) + "_other"
	adminExec(t, testdb.AdminURL, "CREATE DATABASE "+name+" OWNER "+testdb.UserName(t, restoreRole))
	t.Cleanup(func() { testdb.DropDatabase(t, name) })
	ou, err := url.Parse(restoreRole)
	require.NoError(t, err)
	ou.Path = "/" + name
	other := ou.String()
	conn, err := pgx.Connect(context.Background(), other)
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE TABLE keep (x int); INSERT INTO keep VALUES (42)")
	require.NoError(t, err)
	conn.Close(context.Background())
	before := testdb.TableDigests(t, dbconn.MustParse(other))

	// Without the flag the restore role is refused outright: it owns a database pisbackup did not create.
	_, stderr, code := runCLI(t, env, "restore", id, "--target-db", name, "--yes")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "owns database "+name)
	_, stderr, code = runCLI(t, env, "restore", id, "--target-db", name, "--replace-unowned", "--yes")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "left untouched")
	require.Equal(t, before, testdb.TableDigests(t, dbconn.MustParse(other)))

	out, stderr, code := runCLI(t, env, "restore", id, "--target-db", name, "--replace-unowned", "--confirm", name)
	require.Equal(t, 0, code, stderr+out)
	require.Equal(t, testdb.TableDigests(t, dbconn.MustParse(env["SOURCE_DATABASE_URL"])), testdb.TableDigests(t, dbconn.MustParse(other)))

	_, otherCatalog := testdb.Catalog(t)
	catName := testdb.DatabaseName(t, otherCatalog)
	_, stderr, code = runCLI(t, env, "restore", id, "--target-db", catName, "--replace-unowned", "--confirm", catName)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "holds a pisbackup catalog")
}

// Issue 13 §1: serve, worker and the CLI commands that drill or restore ask the server about the restore role
// at start and refuse a superuser in one line naming RESTORE_DATABASE_URL; restore refuses before queueing.
func TestSuperuserRestoreRoleRefusedAtStart(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	b := cliBackup(t, env)
	env["RESTORE_DATABASE_URL"] = testdb.AdminURL
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"worker"}, {"verify-backup", "--latest", "--level", "drill"},
		{"restore", strconv.FormatInt(b.ID, 10), "--target-db", "pisbackup_i13_never"}} {
		_, stderr, code := runCLI(t, env, args...)
		require.Equal(t, 1, code, "%v: %s", args, stderr)
		last := strings.TrimSpace(stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:])
		require.True(t, strings.HasPrefix(last, "RESTORE_DATABASE_URL: "), "%v: %s", args, stderr)
		require.Contains(t, last, "is a superuser")
	}
	out, _, _ := runCLI(t, env, "list-backups", "--json")
	require.NotContains(t, out, "pisbackup_i13_never")
}

// Issue 13 §5: `make run` runs demo-seed --if-missing, which rewrote every file under MEDIA_ROOT; demo-seed
// without the flag replaced the tables of whatever SOURCE_DATABASE_URL names. --if-missing leaves media alone;
// without it a real database or folder is refused in one line.
func TestDemoSeedLeavesRealDataAlone(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	media := env["MEDIA_ROOT"]
	real := filepath.Join(media, "reports", "feedback_summary_2025_q1.csv")
	require.NoError(t, os.MkdirAll(filepath.Dir(real), 0o755))
	require.NoError(t, os.WriteFile(real, []byte("real,clinic,data\n"), 0o600))

	out, stderr, code := runCLI(t, env, "demo-seed", "--if-missing")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "left as it is")
	got, err := os.ReadFile(real)
	require.NoError(t, err)
	require.Equal(t, "real,clinic,data\n", string(got), "--if-missing leaves media alone")

	// The clinic database (here: one demo-seed did not mark) and the real folder are refused.
	clinic := testdb.Empty(t)
	conn, err := pgx.Connect(context.Background(), clinic)
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE TABLE patients_patient (id int); INSERT INTO patients_patient VALUES (7)")
	require.NoError(t, err)
	conn.Close(context.Background())
	env["SOURCE_DATABASE_URL"] = clinic
	before := testdb.TableDigests(t, dbconn.MustParse(clinic))
	_, stderr, code = runCLI(t, env, "demo-seed")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "refuses to write into database")
	require.Equal(t, before, testdb.TableDigests(t, dbconn.MustParse(clinic)))

	env["SOURCE_DATABASE_URL"] = testdb.Empty(t)
	_, stderr, code = runCLI(t, env, "demo-seed")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "refuses to write into media folder")
	got, err = os.ReadFile(real)
	require.NoError(t, err)
	require.Equal(t, "real,clinic,data\n", string(got))
}
