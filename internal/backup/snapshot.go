package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// Snapshot is an open REPEATABLE READ transaction on the source whose snapshot pg_dump imports, so the row
// counts in the manifest describe exactly the data in the dump.
type Snapshot struct {
	conn          *pgx.Conn
	tx            pgx.Tx
	ID            string
	ServerVersion string
	Database      string
	SizeBytes     int64
}

// OpenSnapshot connects to the source and exports a snapshot. The connection must stay open until pg_dump
// has started, so the caller closes it after the dump.
func OpenSnapshot(ctx context.Context, source *dbconn.Settings) (*Snapshot, error) {
	// As pg_dump does for its own session (pg_dump.c, setup_connection): a statement_timeout or
	// idle_in_transaction_session_timeout the clinic's role or database sets (common behind Django) must not
	// cancel the counts of a large table, nor end the snapshot while pg_dump still runs.
	conn, err := source.WithParams(NoTimeouts).Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to source database: %w", err)
	}
	s := &Snapshot{conn: conn}
	s.tx, err = conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err == nil {
		err = s.tx.QueryRow(ctx, `SELECT pg_export_snapshot(), current_setting('server_version'),
			current_database(), pg_database_size(current_database())`).Scan(&s.ID, &s.ServerVersion, &s.Database, &s.SizeBytes)
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	return s, nil
}

// Properties reads the database's encoding, locale, settings and comment, the roles its objects reference
// and the non-default tablespaces its relations use. to_jsonb(pg_database) keeps it working across the
// column renames of PostgreSQL 15 (datlocprovider, daticulocale) and 17 (datlocale).
func (s *Snapshot) Properties(ctx context.Context) (*DatabaseProperties, []string, []string, error) {
	p := &DatabaseProperties{}
	var prov string
	err := s.tx.QueryRow(ctx, `
		SELECT pg_encoding_to_char(d.encoding), COALESCE(to_jsonb(d)->>'datlocprovider', 'c'), d.datcollate, d.datctype,
		       COALESCE(to_jsonb(d)->>'daticulocale', to_jsonb(d)->>'datlocale', ''),
		       COALESCE(shobj_description(d.oid, 'pg_database'), ''),
		       COALESCE((SELECT array_agg(x ORDER BY x) FROM pg_db_role_setting rs, unnest(rs.setconfig) x
		                 WHERE rs.setdatabase = d.oid AND rs.setrole = 0), '{}')
		FROM pg_database d WHERE d.datname = current_database()`).Scan(&p.Encoding, &prov, &p.Collate, &p.Ctype, &p.ICULocale, &p.Comment, &p.Settings)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read database properties: %w", err)
	}
	p.LocaleProvider = map[string]string{"c": "libc", "i": "icu", "b": "builtin"}[prov]
	rows, err := s.tx.Query(ctx, `
		WITH refs(oid) AS (
		  SELECT relowner FROM pg_class UNION SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE relacl IS NOT NULL
		  UNION SELECT nspowner FROM pg_namespace UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace WHERE nspacl IS NOT NULL
		  UNION SELECT proowner FROM pg_proc UNION SELECT (aclexplode(proacl)).grantee FROM pg_proc WHERE proacl IS NOT NULL
		  UNION SELECT typowner FROM pg_type UNION SELECT unnest(polroles) FROM pg_policy
		  UNION SELECT defaclrole FROM pg_default_acl UNION SELECT (aclexplode(defaclacl)).grantee FROM pg_default_acl)
		SELECT r.rolname FROM pg_roles r JOIN refs ON refs.oid = r.oid
		WHERE r.rolname NOT LIKE 'pg\_%' AND r.oid >= 16384 ORDER BY 1`)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read referenced roles: %w", err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read referenced roles: %w", err)
	}
	rows, err = s.tx.Query(ctx, `SELECT DISTINCT t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
		WHERE c.reltablespace <> 0 AND t.spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1`)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read tablespaces: %w", err)
	}
	spaces, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read tablespaces: %w", err)
	}
	return p, roles, spaces, nil
}

// CountRows counts every user table exactly (ONLY, so inherited rows are not counted twice) inside the
// snapshot, with a content digest (see CountTables) of every table when all is set, and otherwise of the tables
// with stored generated columns only: their generated values are not in the archive, so a drill cannot compare
// them with it (ReadArchiveContent). Tables in extensions are skipped because pg_dump does not dump their data
// either.
func (s *Snapshot) CountRows(ctx context.Context, all bool) ([]TableCount, error) {
	return CountTables(ctx, s.tx, func(_, _ string, generated bool) bool { return all || generated })
}

// DigestAll digests every table (CountTables).
func DigestAll(_, _ string, _ bool) bool { return true }

// RowQuerier is a connection or transaction to count in.
type RowQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// digestSettings fix every setting that changes a row's text form (PostgreSQL's output functions read
// DateStyle, IntervalStyle, TimeZone, extra_float_digits and bytea_output; regclass, regproc and the other
// reg* types read search_path, empty here as in pg_dump, so they print schema-qualified whatever the source's
// or the scratch database's default search_path), so the backup's snapshot and the restored database print the
// same row the same way. SET LOCAL in a transaction, SET on a connection.
const digestSettings = `SET %[1]s DateStyle = 'ISO, MDY'; SET %[1]s IntervalStyle = 'postgres'; SET %[1]s TimeZone = 'UTC';
	SET %[1]s extra_float_digits = 1; SET %[1]s bytea_output = 'hex'; SET %[1]s search_path = ''`

// digestExpr is a table's content digest: the sum, as a decimal, of hashtextextended(row::text, 0) (PostgreSQL's
// 64-bit text hash, stable across servers since PostgreSQL 11) over every row (ONLY the table itself); about
// half md5's cost. A sum is order independent, needs no sort and no memory per row; two
// tables with the same digest and count hold, with overwhelming probability, the same rows (generated
// columns included, since the row's text holds every column).
const digestExpr = `COALESCE(sum(hashtextextended(r::text, 0)::numeric), 0)::text`

// CountTables counts every user table of q's database exactly, the same way a backup's manifest was counted,
// so a drill compares like with like. It also computes the content digest (digestExpr) of each table digest
// says yes to (given whether the table has a stored generated column; nil: none), after fixing the output
// settings (digestSettings); q must then be a transaction or a connection pisbackup owns, since the settings
// stay for its lifetime.
func CountTables(ctx context.Context, q RowQuerier, digest func(schema, name string, generated bool) bool) ([]TableCount, error) {
	return countTables(ctx, q, digest, nil)
}

// countTables is CountTables taking the row counts of the tables in known ("schema.name") as given (a drill
// that has just read them whole with COPY) instead of scanning them again, unless they are to be digested.
func countTables(ctx context.Context, q RowQuerier, digest func(schema, name string, generated bool) bool, known map[string]int64) ([]TableCount, error) {
	settingsFixed := false
	rows, err := q.Query(ctx, `
		SELECT n.nspname, c.relname,
		       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attgenerated = 's' AND NOT a.attisdropped)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	var generated []bool
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableCount, error) {
		var t TableCount
		var g bool
		err := r.Scan(&t.Schema, &t.Name, &g)
		generated = append(generated, g)
		return t, err
	})
	if err != nil {
		return nil, err
	}
	for i := range tables {
		id := pgx.Identifier{tables[i].Schema, tables[i].Name}.Sanitize()
		digests := digest != nil && digest(tables[i].Schema, tables[i].Name, generated[i])
		if digests && !settingsFixed {
			scope := ""
			if _, ok := q.(pgx.Tx); ok {
				scope = "LOCAL"
			}
			if _, err := q.Exec(ctx, fmt.Sprintf(digestSettings, scope)); err != nil {
				return nil, fmt.Errorf("fix output settings for content digests: %w", err)
			}
			settingsFixed = true
		}
		n, isKnown := known[tables[i].Schema+"."+tables[i].Name]
		switch {
		case digests:
			err = q.QueryRow(ctx, "SELECT count(*), "+digestExpr+" FROM ONLY "+id+" r").Scan(&tables[i].Rows, &tables[i].Digest)
		case isKnown:
			tables[i].Rows = n
		default:
			err = q.QueryRow(ctx, "SELECT count(*) FROM ONLY "+id).Scan(&tables[i].Rows)
		}
		if err != nil {
			if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege {
				return nil, &ReadDeniedError{Schema: tables[i].Schema, Table: tables[i].Name, Err: err}
			}
			return nil, fmt.Errorf("count %s.%s: %w", tables[i].Schema, tables[i].Name, err)
		}
	}
	return tables, nil
}

// SequenceValue is a sequence's state as pg_dump's SEQUENCE SET restores it.
type SequenceValue struct {
	Schema    string `json:"schema"`
	Name      string `json:"name"`
	LastValue int64  `json:"last_value"`
	IsCalled  bool   `json:"is_called"`
}

// SequenceValues reads every user sequence's last_value and is_called (extension members skipped, as
// pg_dump skips them).
func SequenceValues(ctx context.Context, q RowQuerier) ([]SequenceValue, error) {
	rows, err := q.Query(ctx, `
		SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_temp%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SequenceValue, error) {
		var v SequenceValue
		return v, r.Scan(&v.Schema, &v.Name)
	})
	if err != nil {
		return nil, err
	}
	for i := range seqs {
		id := pgx.Identifier{seqs[i].Schema, seqs[i].Name}.Sanitize()
		if err := q.QueryRow(ctx, "SELECT last_value, is_called FROM "+id).Scan(&seqs[i].LastValue, &seqs[i].IsCalled); err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", id, err)
		}
	}
	return seqs, nil
}

// ReadDeniedError is a table the backup role may not read (SQLSTATE 42501). pg_dump would fail on it too, but
// often first with "could not import the requested snapshot", because the failed count ends the transaction
// that exports the snapshot; this error names the real cause and the grant that fixes it.
type ReadDeniedError struct {
	Schema, Table, Role string
	Err                 error
}

func (e *ReadDeniedError) Error() string {
	return fmt.Sprintf("permission denied for table %s: the backup role cannot read it; as the table's owner run %s",
		pgx.Identifier{e.Schema, e.Table}.Sanitize(), strings.TrimSuffix(GrantSelect(e.Schema, e.Table, e.Role, false), ";"))
}

func (e *ReadDeniedError) Unwrap() error { return e.Err }

// Close ends the transaction and the connection.
func (s *Snapshot) Close(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	_ = s.tx.Rollback(ctx)
	_ = s.conn.Close(ctx)
}
