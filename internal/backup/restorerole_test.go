package backup_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// The server, not the role's name, decides: a superuser, a role without CREATEDB and a member of
// pg_read_server_files are refused with what to do; a plain CREATEDB role passes.
func TestCheckRestoreRole(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	ctx := context.Background()
	var re *backup.RestoreRoleError

	err := backup.CheckRestoreRole(ctx, dbconn.MustParse(testdb.LoginRole(t, db, "SUPERUSER")))
	require.True(t, errors.As(err, &re), "%v", err)
	require.ErrorContains(t, err, "is a superuser")
	require.ErrorContains(t, err, "RESTORE_DATABASE_URL")

	err = backup.CheckRestoreRole(ctx, dbconn.MustParse(testdb.LoginRole(t, db, "NOCREATEDB")))
	require.ErrorContains(t, err, "may not create databases")
	require.ErrorContains(t, err, "CREATEDB")

	files := testdb.LoginRole(t, db, "CREATEDB")
	name := roleOf(t, files)
	admin := testdb.Pool(t, testdb.AdminURL)
	_, err = admin.Exec(ctx, "GRANT pg_read_server_files TO "+name)
	require.NoError(t, err)
	err = backup.CheckRestoreRole(ctx, dbconn.MustParse(files))
	require.ErrorContains(t, err, "member of pg_read_server_files")

	require.NoError(t, backup.CheckRestoreRole(ctx, dbconn.MustParse(testdb.LoginRole(t, db, "CREATEDB"))))
}

func roleOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.User.Username()
}

// A CREATEDB role that is a member of a role owning a database (not a superuser) gains that
// ownership by SET ROLE inside a dump's SQL: ALTER DATABASE … SET default_transaction_read_only, CONNECTION
// LIMIT 0 or a rename work inside a function, so a drill could lock the clinic out of its own database. A
// member of pg_signal_backend could terminate the clinic app's sessions. Both are refused.
func TestCheckRestoreRoleRefusesBorrowedOwnership(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	ctx := context.Background()
	admin := testdb.Pool(t, testdb.AdminURL)

	owner := testdb.LoginRole(t, db, "")
	ownerName := roleOf(t, owner)
	dbName := ownerName + "_db"
	_, err := admin.Exec(ctx, "CREATE DATABASE "+dbName+" OWNER "+ownerName)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)") })

	member := testdb.LoginRole(t, db, "CREATEDB")
	_, err = admin.Exec(ctx, "GRANT "+ownerName+" TO "+roleOf(t, member))
	require.NoError(t, err)
	err = backup.CheckRestoreRole(ctx, dbconn.MustParse(member))
	require.ErrorContains(t, err, "can SET ROLE to "+ownerName)
	require.ErrorContains(t, err, dbName)

	signal := testdb.LoginRole(t, db, "CREATEDB")
	_, err = admin.Exec(ctx, "GRANT pg_signal_backend TO "+roleOf(t, signal))
	require.NoError(t, err)
	err = backup.CheckRestoreRole(ctx, dbconn.MustParse(signal))
	require.ErrorContains(t, err, "member of pg_signal_backend")
}

// Issue 13 §1, the owner kind: a restore role that owns a database it did not create for pisbackup could
// ALTER, rename or lock that database from a dump's SQL (a CHECK constraint evaluated during the data load is
// enough). With RESTORE_DATABASE_URL unset the clinic's own role, usually its database's owner, drilled. The
// server says who owns what: the clinic database's owner is refused naming it, an unrelated owned database is
// refused, a database pisbackup created and marked is fine, and the same database becomes refused the moment
// it is the configured clinic database.
func TestCheckRoleRefusesADatabaseOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, catalog := testdb.Catalog(t)
	src := testdb.Source(t) // owned by testdb.OwnerRole, as the clinic database by the app's role
	g := &backup.Guard{Admin: dbconn.MustParse(src).WithDatabase("postgres"), AdminVar: "SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)",
		Source: dbconn.MustParse(src), Catalog: dbconn.MustParse(catalog), Q: queries.New(pool)}
	_, err := g.CheckRole(ctx)
	var re *backup.RestoreRoleError
	require.True(t, errors.As(err, &re), "%v", err)
	require.True(t, strings.HasPrefix(err.Error(), "RESTORE_DATABASE_URL: "), err.Error())
	require.Contains(t, err.Error(), "from SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)")
	require.Contains(t, err.Error(), "owns database "+testdb.DatabaseName(t, src)+" (the clinic database, SOURCE_DATABASE_URL)")
	require.NotContains(t, err.Error(), "\n")

	// A fresh CREATEDB role owning one database nobody marked: refused, with the name.
	db := testdb.Empty(t)
	r := testdb.LoginRole(t, db, "CREATEDB")
	admin := testdb.Pool(t, testdb.AdminURL)
	foreign := roleOf(t, r) + "_app"
	_, err = admin.Exec(ctx, "CREATE DATABASE "+foreign+" OWNER "+roleOf(t, r))
	require.NoError(t, err)
	t.Cleanup(func() { testdb.DropDatabase(t, foreign) })
	err = backup.CheckRestoreRole(ctx, dbconn.MustParse(r))
	require.ErrorContains(t, err, "owns database "+foreign)
	// A mark written by hand, naming this installation, is not taken on its word: its catalog has no record.
	rg := &backup.Guard{Admin: dbconn.MustParse(r).WithDatabase("postgres"), AdminVar: "RESTORE_DATABASE_URL",
		Source: dbconn.MustParse(src), Catalog: dbconn.MustParse(catalog), Q: queries.New(pool)}
	inst, err := rg.Installation(ctx)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "COMMENT ON DATABASE "+foreign+" IS 'created by pisbackup installation "+inst+" as a restore database; pisbackup drops or replaces it'")
	require.NoError(t, err)
	_, err = rg.CheckRole(ctx)
	require.ErrorContains(t, err, "owns database "+foreign+" (marked as this installation's, but its catalog has no record of creating it)")
	_, err = admin.Exec(ctx, "ALTER DATABASE "+foreign+" OWNER TO postgres")
	require.NoError(t, err)
	require.NoError(t, backup.CheckRestoreRole(ctx, dbconn.MustParse(r)))

	// What pisbackup creates (marked) does not count against the role…
	g = &backup.Guard{Admin: dbconn.MustParse(r).WithDatabase("postgres"), AdminVar: "RESTORE_DATABASE_URL",
		Source: dbconn.MustParse(src), Catalog: dbconn.MustParse(catalog), Q: queries.New(pool)}
	restored := roleOf(t, r) + "_restored"
	require.NoError(t, g.CreateOwned(ctx, restored, "restore"))
	t.Cleanup(func() { testdb.DropDatabase(t, restored) })
	_, err = g.CheckRole(ctx)
	require.NoError(t, err)
	// …until the clinic is switched to it: then its owner may not run a dump's SQL.
	g.Source = dbconn.MustParse(r).WithDatabase(restored)
	_, err = g.CheckRole(ctx)
	require.ErrorContains(t, err, "owns database "+restored+" (the clinic database, SOURCE_DATABASE_URL)")
	// The opt-out for single-user laptops accepts it, as it accepts a superuser.
	g.AllowPowerful = true
	_, err = g.CheckRole(ctx)
	require.NoError(t, err)
}
