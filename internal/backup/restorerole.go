package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// RestoreRole is what the server says about the role drills and restores connect as. A dump's SQL (function
// bodies, materialized views, defaults, triggers) runs with exactly this role's rights while pg_restore loads
// it, so anything beyond CREATEDB is power handed to whoever can place SQL in a backup.
type RestoreRole struct {
	Name       string
	Superuser  bool
	CreateRole bool // PostgreSQL 15: a CREATEROLE role can grant itself pg_execute_server_program
	CreateDB   bool
	// Becomes are other roles this role can SET ROLE to (pg_has_role … 'MEMBER') that are superusers, have
	// CREATEROLE or own a database ("clinic_owner (owner of database clinic)"): membership gives their power
	// to SQL that runs "SET ROLE", and a database's owner may ALTER it (CONNECTION LIMIT 0,
	// default_transaction_read_only) from inside a CHECK constraint evaluated while pg_restore loads data.
	Becomes []string
	// Owns are databases this role owns itself that pisbackup did not create for drills, restores or record
	// recoveries (no "created by pisbackup installation" comment), and the clinic (source) or catalog database
	// whenever the role owns them, marked or not ("clinic (the clinic database, SOURCE_DATABASE_URL)"), and
	// (Guard.CheckRole) databases whose mark names this installation without a matching catalog record. A
	// database's owner may ALTER, rename or reconfigure it, so SQL in a backup could do that to each of them.
	Owns []string
	// ServerRoles are the predefined roles that reach the server's programs and files
	// (pg_execute_server_program, pg_read_server_files, pg_write_server_files) or other sessions
	// (pg_signal_backend: terminate the clinic app's connections) this role is a member of.
	ServerRoles []string
	// ServerFunctions are server-file and server-admin functions (pg_read_file, lo_export, pg_ls_dir, …) this
	// role was granted EXECUTE on; PostgreSQL revokes them from PUBLIC by default.
	ServerFunctions []string
}

// Powers lists, in words, everything the role has beyond CREATEDB that a dump's SQL could use; empty means
// the role is fit to run a dump.
func (r RestoreRole) Powers() []string {
	var out []string
	if r.Superuser {
		out = append(out, "is a superuser")
	}
	if r.CreateRole {
		out = append(out, "has CREATEROLE")
	}
	if len(r.Becomes) > 0 {
		out = append(out, "can SET ROLE to "+strings.Join(r.Becomes, ", "))
	}
	if len(r.Owns) > 0 {
		out = append(out, "owns database "+listSome(r.Owns, 5))
	}
	if len(r.ServerRoles) > 0 {
		out = append(out, "is a member of "+strings.Join(r.ServerRoles, ", "))
	}
	if len(r.ServerFunctions) > 0 {
		out = append(out, "may execute "+strings.Join(r.ServerFunctions, ", "))
	}
	return out
}

// listSome joins the first n of names and says how many more there are, so a role owning hundreds of
// databases still gets a one-line refusal.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// unmarkedDatabases lists, sorted, the databases the connected role owns that carry no pisbackup mark
// (ownedMark at the start of their COMMENT ON DATABASE).
func unmarkedDatabases(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT d.datname::text FROM pg_database d
		WHERE d.datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)
		  AND COALESCE(shobj_description(d.oid, 'pg_database'), '') NOT LIKE $1 || '%' ORDER BY 1`, ownedMark)
	if err != nil {
		return nil, fmt.Errorf("ask the server which databases the restore role owns: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// markSettle is how long InspectRestoreRole waits before asking again about databases the role owns unmarked.
const markSettle = time.Second

// serverFunctions are pg_catalog functions that read, write or list files on the database server or change
// its state; PUBLIC has no EXECUTE on any of them unless an administrator granted it.
var serverFunctions = []string{"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import",
	"lo_export", "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_reload_conf",
	"pg_rotate_logfile", "pg_file_write", "pg_file_rename", "pg_file_unlink"}

// InspectRestoreRole connects with s and asks the server (pg_roles, pg_has_role, has_function_privilege)
// what the role it logs in as may do, including through every role it can SET ROLE to. Nothing is inferred
// from the role's name or the connection string.
func InspectRestoreRole(ctx context.Context, s *dbconn.Settings) (RestoreRole, error) {
	var r RestoreRole
	conn, err := s.Connect(ctx)
	if err != nil {
		return r, fmt.Errorf("connect as the restore role: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
       ARRAY(SELECT o.rolname::text || COALESCE(' (owner of database ' ||
                    (SELECT string_agg(d.datname::text, ', ' ORDER BY d.datname) FROM pg_database d WHERE d.datdba = o.oid) || ')', '')
             FROM pg_roles o
             WHERE o.oid <> r.oid AND pg_has_role(r.oid, o.oid, 'MEMBER')
               AND (o.rolsuper OR o.rolcreaterole OR EXISTS (SELECT 1 FROM pg_database d WHERE d.datdba = o.oid)) ORDER BY 1),
       ARRAY(SELECT o.rolname::text FROM pg_roles o
             WHERE o.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_signal_backend')
               AND pg_has_role(r.oid, o.oid, 'MEMBER') ORDER BY 1),
       ARRAY(SELECT DISTINCT p.proname::text FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY($1)
               AND has_function_privilege(r.oid, p.oid, 'EXECUTE') ORDER BY 1)
FROM pg_roles r WHERE r.rolname = current_user`, serverFunctions).
		Scan(&r.Name, &r.Superuser, &r.CreateRole, &r.CreateDB, &r.Becomes, &r.ServerRoles, &r.ServerFunctions)
	if err != nil {
		return r, fmt.Errorf("ask the server about the restore role: %w", err)
	}
	if !r.Superuser {
		if r.Owns, err = unmarkedDatabases(ctx, conn); err != nil {
			return r, err
		}
	}
	if len(r.Owns) > 0 {
		// pisbackup creates a database and marks it a moment later (CREATE DATABASE cannot take a comment), so a
		// drill or restore of this or another installation may be between the two right now: only a database
		// still unmarked a second later counts.
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(markSettle):
		}
		again, err := unmarkedDatabases(ctx, conn)
		if err != nil {
			return r, err
		}
		r.Owns = slices.DeleteFunc(r.Owns, func(n string) bool { return !slices.Contains(again, n) })
	}
	if r.Superuser { // a superuser passes every pg_has_role/has_function_privilege test; say it once
		r.CreateRole, r.Becomes, r.ServerRoles, r.ServerFunctions, r.Owns = false, nil, nil, nil, nil
	}
	return r, nil
}

// RestoreRoleError is a restore role with more power than a dump's SQL may have, or without CREATEDB. Its
// text is one line naming RESTORE_DATABASE_URL: Problem, then Fix.
type RestoreRoleError struct {
	Role     string
	Problem  string // e.g. `restore role "postgres" (from RESTORE_DATABASE_URL) is a superuser`
	Fix      string // one sentence an operator can act on
	NoCreate bool   // the only problem is the missing CREATEDB
	Info     RestoreRole
}

func (e *RestoreRoleError) Error() string { return "RESTORE_DATABASE_URL: " + e.Problem + "; " + e.Fix }

// Verdict is r judged for running a dump's SQL: nil, or a *RestoreRoleError saying why not. from names the
// setting the role came from ("RESTORE_DATABASE_URL" or "SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not
// set)"); allowPowerful (RESTORE_ALLOW_SUPERUSER) accepts power beyond CREATEDB, never a missing CREATEDB.
func (r RestoreRole) Verdict(from string, allowPowerful bool) error {
	const create = "create a dedicated role with CREATEDB only (CREATE ROLE pisbackup_restore LOGIN CREATEDB PASSWORD '…') " +
		"and put it in RESTORE_DATABASE_URL (see docs/disaster-recovery.md, \"Restore role\")"
	if p := r.Powers(); len(p) > 0 && !allowPowerful {
		return &RestoreRoleError{Role: r.Name, Info: r,
			Problem: fmt.Sprintf("restore role %q (from %s) %s, so a drill or restore would run whatever SQL a backup holds with that power",
				r.Name, from, strings.Join(p, ", ")),
			Fix: create + ", or set RESTORE_ALLOW_SUPERUSER=true on a single-user laptop"}
	}
	if !r.CreateDB && !r.Superuser {
		return &RestoreRoleError{Role: r.Name, Info: r, NoCreate: true,
			Problem: fmt.Sprintf("restore role %q (from %s) may not create databases (no CREATEDB), so drills and restores cannot make their target", r.Name, from),
			Fix:     fmt.Sprintf("ALTER ROLE %s CREATEDB (as an administrator), or %s", pgx.Identifier{r.Name}.Sanitize(), create)}
	}
	return nil
}

// CheckRestoreRole asks the server admin connects to whether its role is fit to run a dump's SQL (see
// InspectRestoreRole and Verdict, no opt-out): not a superuser, no CREATEROLE, owns no database pisbackup did
// not create, cannot become such a role or a database's owner, not a member of pg_execute_server_program, pg_read_server_files, pg_write_server_files or
// pg_signal_backend, no EXECUTE on
// server-file functions, and CREATEDB. It returns *RestoreRoleError for an unfit role. Guard.CheckRole is the
// same check with the configured opt-out.
func CheckRestoreRole(ctx context.Context, admin *dbconn.Settings) error {
	r, err := InspectRestoreRole(ctx, admin)
	if err != nil {
		return err
	}
	return r.Verdict("RESTORE_DATABASE_URL", false)
}
