package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/migrations"
)

// catalogChecks: pisbackup's own database answers and carries every migration this binary embeds.
func catalogChecks(ctx context.Context, e Env) []Check {
	const name, title = "catalog", "Catalog database"
	pool := e.Catalog
	if pool == nil {
		pc, err := e.Cfg.Catalog.PoolConfig()
		if err != nil {
			return []Check{fail(name, title, "DATABASE_URL: "+err.Error(), "set DATABASE_URL to a postgres:// URL")}
		}
		p, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return []Check{fail(name, title, "DATABASE_URL: "+e.Cfg.ScrubErr(err), "set DATABASE_URL to a postgres:// URL")}
		}
		defer p.Close()
		pool = p
	}
	if err := pool.Ping(ctx); err != nil {
		return []Check{fail(name, title, fmt.Sprintf("cannot reach pisbackup's database %s: %s",
			e.Cfg.Catalog, e.Cfg.ScrubErr(err)),
			"check DATABASE_URL and that the server accepts connections")}
	}
	pending, err := migrations.Pending(ctx, pool)
	if err != nil {
		return []Check{fail(name, title, "cannot read the migration state: "+err.Error(), "run `pisbackup migrate`")}
	}
	if len(pending) > 0 {
		return []Check{fail(name, title, fmt.Sprintf("the catalog is not migrated: %d migration(s) pending (%s)",
			len(pending), strings.Join(pending, ", ")), "run `pisbackup migrate` (the release phase runs it before preflight)")}
	}
	return []Check{pass(name, title, "reachable and migrated")}
}

// sourceChecks: the clinic database answers, the backup role can read every table pg_dump will read, and an
// installed pg_dump fits its server version.
func sourceChecks(ctx context.Context, e Env) []Check {
	const title = "Source database"
	conn, err := e.Cfg.Source.Connect(ctx)
	if err != nil {
		c := fail("source", title, fmt.Sprintf("cannot reach the clinic database %s: %s", e.Cfg.Source, e.Cfg.ScrubErr(err)),
			"check SOURCE_DATABASE_URL (host, credentials, database name, sslmode)")
		return []Check{c, notChecked("source_tables", "Backup role's read access", "source"), notChecked("pg_dump", "pg_dump", "source")}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	server := conn.PgConn().ParameterStatus("server_version")
	checks := []Check{pass("source", title, fmt.Sprintf("PostgreSQL %s, database %s", server, conn.Config().Database)),
		tableAccessCheck(ctx, conn)}
	choice, err := e.Cfg.PGClients.For(ctx, "pg_dump", server)
	return append(checks, clientCheck("pg_dump", "pg_dump", choice, err))
}

// restoreChecks: the server drills and restores create databases on answers, its role is fit (not a
// superuser, may create databases) and an installed pg_restore fits its version.
func restoreChecks(ctx context.Context, e Env) []Check {
	const title = "Restore server"
	which := "RESTORE_DATABASE_URL"
	if e.Cfg.RestoreDB == nil {
		which = "SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)"
	}
	admin := e.Cfg.RestoreServer().WithDatabase("postgres")
	server, err := backup.ServerVersion(ctx, admin)
	if err != nil {
		return []Check{fail("restore_server", title, fmt.Sprintf("cannot reach the restore server through %s: %s", which, err),
			"set RESTORE_DATABASE_URL to a role on the server drills and restores may create databases on"),
			notChecked("restore_role", "Restore role", "restore_server"), notChecked("pg_restore", "pg_restore", "restore_server")}
	}
	checks := []Check{pass("restore_server", title, fmt.Sprintf("PostgreSQL %s via %s", server, which))}
	role := pass("restore_role", "Restore role", "not a superuser, may create databases")
	var re *backup.RestoreRoleError
	if _, err := jobs.NewGuard(e.Cfg, nil).CheckRole(ctx); errors.As(err, &re) {
		role = fail("restore_role", "Restore role", re.Problem, re.Fix)
	} else if err != nil {
		role = fail("restore_role", "Restore role", err.Error(), "check RESTORE_DATABASE_URL")
	}
	choice, err := e.Cfg.PGClients.For(ctx, "pg_restore", server)
	return append(checks, role, clientCheck("pg_restore", "pg_restore", choice, err))
}

// clientCheck turns pgclient's choice into a check: the chosen client and server, or the mismatch naming
// both versions.
func clientCheck(name, title string, c pgclient.Choice, err error) Check {
	var mm *pgclient.MismatchError
	var nf *pgclient.NotFoundError
	switch {
	case errors.As(err, &mm):
		return fail(name, title, mm.Problem(), mm.Fix())
	case errors.As(err, &nf):
		return fail(name, title, nf.Problem(), nf.Fix())
	case err != nil:
		return fail(name, title, err.Error(), "install postgresql-client-<major> matching the server, or set PG_BIN_DIR")
	}
	return pass(name, title, fmt.Sprintf("%s %s at %s for server %s (newest of %d installed)", c.Program, c.Version, c.Path, c.Server, len(c.Found)))
}

func notChecked(name, title, because string) Check {
	return fail(name, title, "not checked because the "+because+" check failed", "fix "+because+" first")
}

// tableAccessCheck: the backup role can read every table, sequence and large object pg_dump dumps (backup.ReadAccess); a
// failure names each table and the statements that fix it.
func tableAccessCheck(ctx context.Context, conn *pgx.Conn) Check {
	const name, title = "source_tables", "Backup role's read access"
	role, total, unreadable, err := backup.ReadAccess(ctx, conn)
	if err != nil {
		return fail(name, title, "cannot list the source's tables: "+err.Error(), "grant the backup role access to the catalog")
	}
	if len(unreadable) == 0 {
		return pass(name, title, fmt.Sprintf("role %q can read all %d tables, sequences and large objects", role, total))
	}
	var problems, fixes []string
	for _, u := range unreadable {
		problems = append(problems, fmt.Sprintf("%s.%s (%s)", u.Schema, u.Name, u.Reason))
		fixes = append(fixes, u.Fixes...)
	}
	return fail(name, title,
		fmt.Sprintf("backup role %q cannot read %d of %d tables, sequences and large objects, so pg_dump would fail: %s", role, len(unreadable), total, listSome(problems, 8, ", ")),
		"as the tables' owner (for BYPASSRLS, a superuser) run "+listSome(dedupe(fixes), 8, " "))
}

func listSome(items []string, n int, sep string) string {
	if len(items) <= n {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s … and %d more", strings.Join(items[:n], sep), len(items)-n)
}

func dedupe(items []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
