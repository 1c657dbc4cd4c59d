package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RestoreRoleError says why the role drills and restores connect as must not be used, and how to fix it.
type RestoreRoleError struct {
	Role    string
	Problem string // e.g. `role "postgres" is a superuser`
	Fix     string // one sentence an operator can act on
}

func (e *RestoreRoleError) Error() string { return e.Problem + ": " + e.Fix }

// CheckRestoreRole asks the server adminURL connects to whether its role is fit to restore into: it must be
// allowed to create databases (CREATEDB, which is not inherited through membership in PostgreSQL) and must
// not be a superuser or a member of pg_execute_server_program, pg_read_server_files or pg_write_server_files,
// because pg_restore runs whatever SQL the archive holds with the role's rights. The server answers; nothing
// is inferred from the role's name. It returns *RestoreRoleError for an unfit role.
func CheckRestoreRole(ctx context.Context, adminURL string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the restore server: %s", RedactError(err, adminURL))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var role string
	var super, createdb bool
	var dangerous []string
	err = conn.QueryRow(ctx, `
		SELECT r.rolname, r.rolsuper, r.rolcreatedb,
		       ARRAY(SELECT g FROM unnest(ARRAY['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']) g
		             WHERE to_regrole(g) IS NOT NULL AND pg_has_role(r.oid, g, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&role, &super, &createdb, &dangerous)
	if err != nil {
		return fmt.Errorf("read the restore role's attributes: %w", err)
	}
	const create = "create a dedicated role (CREATE ROLE pisbackup_restore LOGIN CREATEDB PASSWORD '…') and put it in RESTORE_DATABASE_URL"
	switch {
	case super:
		return &RestoreRoleError{Role: role, Problem: fmt.Sprintf("restore role %q is a superuser, so a restored dump's SQL could do anything on the server", role), Fix: create}
	case len(dangerous) > 0:
		return &RestoreRoleError{Role: role, Problem: fmt.Sprintf("restore role %q is a member of %s, so a restored dump's SQL could run programs or touch server files", role, strings.Join(dangerous, ", ")),
			Fix: fmt.Sprintf("REVOKE %s FROM %s, or %s", strings.Join(dangerous, ", "), pgx.Identifier{role}.Sanitize(), create)}
	case !createdb:
		return &RestoreRoleError{Role: role, Problem: fmt.Sprintf("restore role %q may not create databases, so drills and restores cannot make their target", role),
			Fix: fmt.Sprintf("ALTER ROLE %s CREATEDB (as an administrator), or %s", pgx.Identifier{role}.Sanitize(), create)}
	}
	return nil
}
