package backup

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Unreadable is a table or sequence the connected role could not read the way pg_dump must.
type Unreadable struct {
	Schema, Name string
	Reason       string   // "no SELECT", "no USAGE on schema audit", "row-level security applies"
	Fixes        []string // the statements, run by the owner, that let the role read it
}

// ReadAccess asks the server, as the connected role, whether pg_dump could read every table and sequence it
// dumps: SELECT on each (has_table_privilege), USAGE on its schema, and no row-level security the role is
// subject to (pg_dump sets row_security off and fails on such a table). Extension members are left out, as
// pg_dump leaves them. It returns the role, how many relations were checked and the unreadable ones.
func ReadAccess(ctx context.Context, q RowQuerier) (role string, total int, unreadable []Unreadable, err error) {
	rows, err := q.Query(ctx, `
		WITH me AS (SELECT current_user AS role, rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user)
		SELECT n.nspname, c.relname, c.relkind = 'S',
		       has_schema_privilege(n.oid, 'USAGE'),
		       has_table_privilege(c.oid, 'SELECT'),
		       c.relrowsecurity AND NOT me.bypass AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE')),
		       me.role
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN me
		WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return "", 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var u Unreadable
		var seq, usage, sel, rls bool
		if err := rows.Scan(&u.Schema, &u.Name, &seq, &usage, &sel, &rls, &role); err != nil {
			return "", 0, nil, err
		}
		total++
		switch {
		case !usage:
			u.Reason = "no USAGE on schema " + u.Schema
			u.Fixes = append(u.Fixes, fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s;", pgx.Identifier{u.Schema}.Sanitize(), pgx.Identifier{role}.Sanitize()))
			if !sel {
				u.Fixes = append(u.Fixes, GrantSelect(u.Schema, u.Name, role, seq))
			}
		case !sel:
			u.Reason, u.Fixes = "no SELECT", []string{GrantSelect(u.Schema, u.Name, role, seq)}
		case rls:
			u.Reason, u.Fixes = "row-level security applies", []string{fmt.Sprintf("ALTER ROLE %s BYPASSRLS;", pgx.Identifier{role}.Sanitize())}
		default:
			continue
		}
		unreadable = append(unreadable, u)
	}
	return role, total, unreadable, rows.Err()
}

// GrantSelect is the statement that lets role read schema.name (a sequence when sequence is set); role ""
// reads "the backup role" in words.
func GrantSelect(schema, name, role string, sequence bool) string {
	r := "<the backup role>"
	if role != "" {
		r = pgx.Identifier{role}.Sanitize()
	}
	kind := ""
	if sequence {
		kind = "SEQUENCE "
	}
	return fmt.Sprintf("GRANT SELECT ON %s%s TO %s;", kind, pgx.Identifier{schema, name}.Sanitize(), r)
}
