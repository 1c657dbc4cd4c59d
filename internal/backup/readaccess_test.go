package backup_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// Every way pg_dump can be refused a relation is found, with the statement that fixes it: no SELECT on a
// sequence, no USAGE on a schema, and row-level security the role does not bypass.
func TestReadAccessFindsEveryRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.Empty(t)
	u, err := url.Parse(db)
	require.NoError(t, err)
	admin, err := url.Parse(testdb.AdminURL)
	require.NoError(t, err)
	admin.Path = u.Path
	role := u.User.Username()
	ac, err := pgx.Connect(ctx, admin.String())
	require.NoError(t, err)
	defer ac.Close(ctx)
	_, err = ac.Exec(ctx, `
		CREATE SCHEMA audit; CREATE TABLE audit.log (id int); GRANT SELECT ON audit.log TO `+role+`;
		CREATE SEQUENCE public.counter;
		CREATE TABLE public.notes (id int); ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; GRANT SELECT ON public.notes TO `+role+`;
		CREATE TABLE public.fine (id int); GRANT SELECT ON public.fine TO `+role)
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, db)
	require.NoError(t, err)
	defer conn.Close(ctx)
	got, total, unreadable, err := backup.ReadAccess(ctx, conn)
	require.NoError(t, err)
	require.Equal(t, role, got)
	require.Equal(t, 4, total)
	q := `"` + role + `"`
	require.Equal(t, []backup.Unreadable{
		{Schema: "audit", Name: "log", Reason: "no USAGE on schema audit", Fixes: []string{`GRANT USAGE ON SCHEMA "audit" TO ` + q + `;`}},
		{Schema: "public", Name: "counter", Reason: "no SELECT", Fixes: []string{`GRANT SELECT ON SEQUENCE "public"."counter" TO ` + q + `;`}},
		{Schema: "public", Name: "notes", Reason: "row-level security applies", Fixes: []string{`ALTER ROLE ` + q + ` BYPASSRLS;`}},
	}, unreadable)
}

// pg_dump dumps large objects too and stops at the first one the role may not read ("permission denied for
// large object"), so one owned by another role without a grant is refused like a table; one granted to the
// role is fine.
func TestReadAccessFindsUnreadableLargeObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.Empty(t)
	u, err := url.Parse(db)
	require.NoError(t, err)
	admin, err := url.Parse(testdb.AdminURL)
	require.NoError(t, err)
	admin.Path = u.Path
	role := u.User.Username()
	ac, err := pgx.Connect(ctx, admin.String())
	require.NoError(t, err)
	defer ac.Close(ctx)
	var hidden, granted uint32
	require.NoError(t, ac.QueryRow(ctx, `SELECT lo_from_bytea(0, 'x'), lo_from_bytea(0, 'y')`).Scan(&hidden, &granted))
	_, err = ac.Exec(ctx, fmt.Sprintf(`GRANT SELECT ON LARGE OBJECT %d TO %s`, granted, role))
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, db)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, total, unreadable, err := backup.ReadAccess(ctx, conn)
	require.NoError(t, err)
	require.Equal(t, 2, total)
	require.Equal(t, []backup.Unreadable{{Schema: "pg_largeobject", Name: fmt.Sprint(hidden), Reason: "no SELECT on this large object",
		Fixes: []string{fmt.Sprintf(`GRANT SELECT ON LARGE OBJECT %d TO "%s";`, hidden, role)}}}, unreadable)
}
