package backup_test

import (
	"context"
	"errors"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// asSuperuser is url's database reached as the harness superuser.
func asSuperuser(t *testing.T, url string) string {
	t.Helper()
	u, err := neturl.Parse(testdb.AdminURL)
	require.NoError(t, err)
	u.Path = "/" + testdb.DatabaseName(t, url)
	return u.String()
}

func exec1(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

// Issue 13 §1, verbatim: a function running COPY … TO PROGRAM and a materialized view calling it, dumped with
// pg_dump -Fc. Restoring it as a superuser runs the program on the database server (the control case, with
// the explicit opt-out, proves this test sees the side effect); a superuser restore role is refused before
// anything is created; the CREATEDB-only role restores without the side effect (the view stays unpopulated, reported as a problem).
func TestDrillRunsDumpSQLWithoutPower(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// PostgreSQL runs the program as its own OS user: give it a directory it may write into.
	dir, err := os.MkdirTemp("", "pisbackup-i13-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	pwned := filepath.Join(dir, "pwned")

	src := testdb.Empty(t)
	// Planted by someone who once had superuser rights (or built elsewhere and uploaded). The view is filled
	// while h() is harmless; then h() becomes the attack, which the dump's REFRESH runs at restore time.
	exec1(t, asSuperuser(t, src), `
CREATE FUNCTION public.h() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
CREATE MATERIALIZED VIEW public.mv AS SELECT public.h();
CREATE OR REPLACE FUNCTION public.h() RETURNS int LANGUAGE plpgsql AS $$
BEGIN COPY (SELECT current_user) TO PROGRAM 'id > `+pwned+`'; RETURN 1; END $$;`)
	_, err = os.Stat(pwned)
	require.ErrorIs(t, err, os.ErrNotExist, "planting does not run the program")

	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	pgRestore, err := exec.LookPath("pg_restore")
	require.NoError(t, err)
	res, err := backup.DumpDatabase(ctx, backup.DumpOptions{BackupID: 1, Trigger: "cli", Source: dbconn.MustParse(asSuperuser(t, src)), Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st, Keys: keys})
	require.NoError(t, err)
	artifact := backup.Artifact{Store: st, Key: res.Key, Encrypted: true, Identities: keys.Identities}

	drill := func(admin *dbconn.Settings, allow bool) (*backup.DrillResult, error) {
		g := newGuard(t, admin, src)
		g.AllowPowerful = allow
		return backup.Drill(ctx, backup.DrillOptions{Artifact: artifact, PGRestore: pgRestore, Guard: g,
			ID: time.Now().UnixNano(), Expected: res.Manifest.Tables})
	}
	restoreRole := dbconn.MustParse(testdb.RestoreURL(t, src)).WithDatabase("postgres")

	// The CREATEDB-only role (what tests and production use): no program runs.
	// Since issue 22 the restore is tolerant: the refused refresh is one "object not created" problem (the view
	// stays unpopulated), no data is lost, so the drill passes and names the problem.
	r, err := drill(restoreRole, false)
	require.NoError(t, err)
	require.Equal(t, 1, r.Problems.Count(), r.Problems.List)
	require.Contains(t, r.Problems.List[0].Message, "pg_execute_server_program", "PostgreSQL refused the COPY TO PROGRAM")
	require.Equal(t, "MATERIALIZED VIEW DATA", r.Problems.List[0].Type)
	_, statErr := os.Stat(pwned)
	require.ErrorIs(t, statErr, os.ErrNotExist, "no file appears when the restore role has no power")
	exists, err := backup.DatabaseExists(ctx, restoreRole, r.Scratch)
	require.NoError(t, err)
	require.False(t, exists, "the scratch database is dropped")

	// A superuser restore role is refused before anything is created, with one line naming the variable.
	r, err = drill(dbconn.MustParse(testdb.AdminURL), false)
	var re *backup.RestoreRoleError
	require.ErrorAs(t, err, &re)
	require.Contains(t, err.Error(), "RESTORE_DATABASE_URL")
	require.Contains(t, err.Error(), "is a superuser")
	require.NotContains(t, err.Error(), "\n")
	require.Empty(t, r.Scratch, "nothing was created")
	_, statErr = os.Stat(pwned)
	require.ErrorIs(t, statErr, os.ErrNotExist)

	// Control: with the explicit opt-out the superuser runs the dump's program. This is what every drill did
	// before the restore role was checked, and it proves the assertions above can fail.
	_, _ = drill(dbconn.MustParse(testdb.AdminURL), true)
	out, err := os.ReadFile(pwned)
	require.NoError(t, err, "as superuser the dump's COPY TO PROGRAM ran on the server")
	require.Contains(t, string(out), "uid=")
}

// newRole is a login role with attrs and grants for this test (testdb.LoginRole), as a URL to database postgres.
func newRole(t *testing.T, attrs string, grants ...string) string {
	t.Helper()
	url := testdb.LoginRole(t, testdb.AdminURL, attrs)
	for _, g := range grants {
		exec1(t, testdb.AdminURL, "GRANT "+g+" TO "+testdb.UserName(t, url))
	}
	return url
}

// The role check asks the server (pg_roles, pg_has_role, has_function_privilege), so every way of holding
// power is caught whatever the role is called.
func TestCheckRestoreRoleAsksTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	check := func(url string) (backup.RestoreRole, error) {
		s, err := dbconn.Parse(url)
		require.NoError(t, err)
		return (&backup.Guard{Admin: s, AdminVar: "RESTORE_DATABASE_URL"}).CheckRole(ctx)
	}
	powerful := newRole(t, "NOSUPERUSER CREATEROLE")
	cases := []struct {
		url, want string
	}{
		{testdb.AdminURL, "is a superuser"},
		{newRole(t, "NOSUPERUSER CREATEDB", "pg_execute_server_program"), "pg_execute_server_program"},
		{newRole(t, "NOSUPERUSER CREATEDB", "pg_read_server_files", "pg_write_server_files"), "pg_read_server_files, pg_write_server_files"},
		{newRole(t, "NOSUPERUSER CREATEDB CREATEROLE"), "has CREATEROLE"},
		{newRole(t, "NOSUPERUSER CREATEDB", testdb.UserName(t, powerful)), "can SET ROLE to"},
		{newRole(t, "NOSUPERUSER CREATEDB", "EXECUTE ON FUNCTION pg_read_file(text)"), "may execute pg_read_file"},
		{newRole(t, "NOSUPERUSER NOCREATEDB"), "may not create databases"},
	}
	for _, c := range cases {
		_, err := check(c.url)
		var re *backup.RestoreRoleError
		require.ErrorAs(t, err, &re, c.url)
		require.Contains(t, err.Error(), c.want, c.url)
		require.True(t, strings.HasPrefix(err.Error(), "RESTORE_DATABASE_URL: "), err.Error())
	}
	r, err := check(newRole(t, "NOSUPERUSER CREATEDB"))
	require.NoError(t, err)
	require.Empty(t, r.Powers())
	require.True(t, r.CreateDB)

	// The opt-out accepts power, never a missing CREATEDB.
	s, _ := dbconn.Parse(testdb.AdminURL)
	_, err = (&backup.Guard{Admin: s, AdminVar: "RESTORE_DATABASE_URL", AllowPowerful: true}).CheckRole(ctx)
	require.NoError(t, err)
	s, _ = dbconn.Parse(newRole(t, "NOSUPERUSER NOCREATEDB"))
	_, err = (&backup.Guard{Admin: s, AdminVar: "RESTORE_DATABASE_URL", AllowPowerful: true}).CheckRole(ctx)
	require.ErrorContains(t, err, "may not create databases")
}

// Issue 13 §4: two installations on one server drilled the same verification id into the same
// pisbackup_drill_<id> and force-dropped each other mid-restore. Two catalogs (cloned from one template, as a
// staging copy of production would be) get distinct installation ids; both drill the same id at once and
// succeed; neither may drop the other's scratch database.
func TestTwoInstallationsDrillAtOnce(t *testing.T) {
	t.Parallel()
	a, _ := drillFixture(t)
	b := a
	other := *a.Guard // the same server and restore role, another catalog
	pool, catalog := testdb.Catalog(t)
	other.Q = queries.New(pool)
	other.Catalog, _ = dbconn.Parse(catalog)
	b.Guard = &other
	ctx := context.Background()
	instA, err := a.Guard.Installation(ctx)
	require.NoError(t, err)
	instB, err := b.Guard.Installation(ctx)
	require.NoError(t, err)
	require.NotEqual(t, instA, instB, "catalogs cloned from one template mint their own installation ids")
	again, err := a.Guard.Installation(ctx)
	require.NoError(t, err)
	require.Equal(t, instA, again, "the id is stable")

	// Each drill waits, between restore and comparison, until the other's scratch database exists, then tries
	// to drop it: refused, because the other catalog created it.
	var wg sync.WaitGroup
	both := make(chan struct{}, 2)
	hook := func(self, other *backup.Guard, otherInst string) func(context.Context, *dbconn.Settings) error {
		return func(ctx context.Context, _ *dbconn.Settings) error {
			both <- struct{}{}
			deadline := time.Now().Add(60 * time.Second)
			for len(both) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			err := self.DropOwned(ctx, backup.ScratchName(otherInst, a.ID), "drill")
			var oe *backup.OwnershipError
			if !errors.As(err, &oe) {
				return errors.New("dropping the other installation's scratch database was not refused: " + errString(err))
			}
			return nil
		}
	}
	a.AfterRestore = hook(a.Guard, b.Guard, instB)
	b.AfterRestore = hook(b.Guard, a.Guard, instA)
	var resA, resB *backup.DrillResult
	var errA, errB error
	wg.Add(2)
	go func() { defer wg.Done(); resA, errA = backup.Drill(ctx, a) }()
	go func() { defer wg.Done(); resB, errB = backup.Drill(ctx, b) }()
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)
	require.NotEqual(t, resA.Scratch, resB.Scratch)
	require.True(t, strings.HasPrefix(resA.Scratch, backup.DrillPrefix+instA+"_"), resA.Scratch)
	require.Zero(t, resA.Mismatches)
	require.Zero(t, resB.Mismatches)
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// A scratch-named database pisbackup did not create (or one dropped and created again by someone else under
// the same name) is never dropped.
func TestDropOwnedDropsOnlyWhatThisCatalogCreated(t *testing.T) {
	t.Parallel()
	o, admin := drillFixture(t)
	ctx := context.Background()
	g := o.Guard
	inst, err := g.Installation(ctx)
	require.NoError(t, err)
	name := backup.ScratchName(inst, o.ID)
	exec1(t, testdb.AdminURL, "CREATE DATABASE "+name)
	t.Cleanup(func() { testdb.DropDatabase(t, name) })
	var oe *backup.OwnershipError
	require.ErrorAs(t, g.DropOwned(ctx, name, "drill"), &oe)
	_, err = backup.Drill(ctx, o)
	require.ErrorAs(t, err, &oe, "a drill does not force-drop a database it did not create")
	exists, err := backup.DatabaseExists(ctx, admin, name)
	require.NoError(t, err)
	require.True(t, exists)

	testdb.DropDatabase(t, name)
	require.NoError(t, g.CreateOwned(ctx, name, "drill"))
	testdb.DropDatabase(t, name)
	exec1(t, testdb.AdminURL, "CREATE DATABASE "+name) // same name, new oid: somebody else's now
	require.ErrorAs(t, g.DropOwned(ctx, name, "drill"), &oe)
	exists, err = backup.DatabaseExists(ctx, admin, name)
	require.NoError(t, err)
	require.True(t, exists)
}

// Processes that start at once on a fresh (or freshly copied) catalog agree on one installation id: the first
// mint stands, so scratch names computed by any of them match.
func TestInstallationIDIsMintedOnce(t *testing.T) {
	t.Parallel()
	g := newGuard(t, dbconn.MustParse(testdb.AdminURL), testdb.AdminURL)
	ctx := context.Background()
	ids := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i], errs[i] = g.Installation(ctx) }()
	}
	wg.Wait()
	for i := range ids {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
	}
	require.Regexp(t, `^[a-z0-9]{12}$`, ids[0])
}
