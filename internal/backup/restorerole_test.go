package backup_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
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
