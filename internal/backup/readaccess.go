package backup

import (
	"context"
	"fmt"
	"strconv"

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
// pg_dump leaves them. Large objects are checked too (see largeObjectAccess; an unreadable one is reported with
// Schema "pg_largeobject" and its oid as Name). It returns the role, how many relations and large objects were
// checked and the unreadable ones.
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
	if err := rows.Err(); err != nil {
		return "", 0, nil, err
	}
	rows.Close()
	if role == "" { // no relations: ask who we are for the fixes
		if err := q.QueryRow(ctx, `SELECT current_user`).Scan(&role); err != nil {
			return "", 0, nil, err
		}
	}
	los, refused, err := largeObjectAccess(ctx, q)
	if err != nil {
		return "", 0, nil, err
	}
	total += los
	for _, oid := range refused {
		unreadable = append(unreadable, Unreadable{Schema: "pg_largeobject", Name: strconv.FormatUint(uint64(oid), 10),
			Reason: "no SELECT on this large object",
			Fixes:  []string{fmt.Sprintf("GRANT SELECT ON LARGE OBJECT %d TO %s;", oid, pgx.Identifier{role}.Sanitize())}})
	}
	return role, total, unreadable, nil
}

// maxListedLargeObjects bounds how many refused large objects ReadAccess names (a database may hold millions).
const maxListedLargeObjects = 100

// largeObjectAccess counts the database's large objects, which pg_dump dumps with the data, and lists (at most
// maxListedLargeObjects) those the connected role may not read: PostgreSQL checks SELECT on each one unless the
// role is a superuser or lo_compat_privileges is on; the owner (or a member of it) and grantees, PUBLIC included,
// may read. pg_largeobject_metadata is readable by every role; has_largeobject_privilege exists only from 17.
func largeObjectAccess(ctx context.Context, q RowQuerier) (total int, refused []uint32, err error) {
	rows, err := q.Query(ctx, `
		WITH me AS (SELECT rolsuper OR current_setting('lo_compat_privileges')::bool AS free FROM pg_roles WHERE rolname = current_user)
		SELECT count(*) OVER (), m.oid,
		       me.free OR pg_has_role(m.lomowner, 'USAGE') OR EXISTS (SELECT 1 FROM aclexplode(m.lomacl) a
		           WHERE a.privilege_type = 'SELECT' AND CASE WHEN a.grantee = 0 THEN true ELSE pg_has_role(a.grantee, 'USAGE') END)
		FROM pg_largeobject_metadata m CROSS JOIN me ORDER BY 3, 2`)
	if err != nil {
		return 0, nil, fmt.Errorf("list large objects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var readable bool
		if err := rows.Scan(&total, &oid, &readable); err != nil {
			return 0, nil, err
		}
		if readable || len(refused) >= maxListedLargeObjects {
			break // readable ones sort last
		}
		refused = append(refused, oid)
	}
	return total, refused, rows.Err()
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
