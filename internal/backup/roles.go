package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// MissingRoles returns, sorted, the roles of want that the server q is connected to lacks (pg_roles).
func MissingRoles(ctx context.Context, q RowQuerier, want []string) ([]string, error) {
	if len(want) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT r FROM unnest($1::text[]) r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) ORDER BY 1`, want)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// CreateRoleStatements are the statements that create roles as NOLOGIN placeholders: enough for a restore's
// grants, policies and memberships to apply, and unable to sign in until an administrator decides otherwise.
func CreateRoleStatements(roles []string) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		out = append(out, "CREATE ROLE "+pgx.Identifier{r}.Sanitize()+" NOLOGIN;")
	}
	return out
}

// ErrNoRoleAdmin refuses a restore asked to create roles when ROLE_ADMIN_DATABASE_URL is not set.
var ErrNoRoleAdmin = errors.New("ROLE_ADMIN_DATABASE_URL is not set")

// ErrReservedRole refuses creating a role whose name PostgreSQL reserves (pg_…).
var ErrReservedRole = errors.New("a role name PostgreSQL reserves cannot be created")

// CreateMissingRoles creates, as NOLOGIN roles, those of roles the restore server lacks (see
// CreateRoleStatements), connecting with roleAdmin (ROLE_ADMIN_DATABASE_URL, a role with CREATEROLE). The
// restore role itself never gets CREATEROLE (see RestoreRole): this connection runs only these statements,
// never SQL from the backup. roleAdmin must reach the same cluster as restoreServer (pg_control_system's
// system identifier; see Identify). Names starting with pg_ are reserved by PostgreSQL and refused. It returns
// the roles it created; with roleAdmin nil it creates nothing and returns ErrNoRoleAdmin wrapped with the
// statements an administrator can run instead.
func CreateMissingRoles(ctx context.Context, roleAdmin, restoreServer *dbconn.Settings, roles []string) ([]string, error) {
	target, err := restoreServer.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the restore server: %w", err)
	}
	defer target.Close(context.WithoutCancel(ctx))
	missing, err := MissingRoles(ctx, target, roles)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	for _, r := range missing {
		if strings.HasPrefix(r, "pg_") {
			return nil, fmt.Errorf("%w: the backup references role %q", ErrReservedRole, r)
		}
	}
	stmts := strings.Join(CreateRoleStatements(missing), " ")
	if roleAdmin == nil {
		return nil, fmt.Errorf("%w: to create the %d missing role(s), set it to a role with CREATEROLE on the restore server, or run as an administrator there: %s",
			ErrNoRoleAdmin, len(missing), stmts)
	}
	conn, err := roleAdmin.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("ROLE_ADMIN_DATABASE_URL: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	switch a, b := serverID(ctx, conn), serverID(ctx, target); {
	case a == "" || b == "":
		return nil, fmt.Errorf("ROLE_ADMIN_DATABASE_URL: cannot confirm it reaches the restore server (pg_control_system() is not available); create the roles as an administrator there: %s", stmts)
	case a != b:
		return nil, fmt.Errorf("ROLE_ADMIN_DATABASE_URL does not reach the restore server (RESTORE_DATABASE_URL): roles are created only on the server the restore writes to")
	}
	var created []string
	for _, r := range missing {
		_, err := conn.Exec(ctx, CreateRoleStatements([]string{r})[0])
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" {
			continue // created a moment ago by someone else: it exists, which is all the restore needs
		}
		if err != nil {
			return created, fmt.Errorf("ROLE_ADMIN_DATABASE_URL: create role %s: %w", r, err)
		}
		created = append(created, r)
	}
	return created, nil
}
