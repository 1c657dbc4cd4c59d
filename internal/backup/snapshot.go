package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
func OpenSnapshot(ctx context.Context, sourceURL string) (*Snapshot, error) {
	conn, err := pgx.Connect(ctx, sourceURL)
	if err != nil {
		return nil, fmt.Errorf("connect to source database: %s", RedactError(err, sourceURL))
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

// CountRows counts every user table exactly (ONLY, so inherited rows are not counted twice) inside the
// snapshot. Tables in extensions are skipped because pg_dump does not dump their data either.
func (s *Snapshot) CountRows(ctx context.Context) ([]TableCount, error) {
	return CountTables(ctx, s.tx)
}

// RowQuerier is a connection or transaction to count in.
type RowQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CountTables counts every user table of q's database exactly, the same way a backup's manifest was counted,
// so a drill compares like with like.
func CountTables(ctx context.Context, q RowQuerier) ([]TableCount, error) {
	rows, err := q.Query(ctx, `
		SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableCount, error) {
		var t TableCount
		return t, r.Scan(&t.Schema, &t.Name)
	})
	if err != nil {
		return nil, err
	}
	for i := range tables {
		sql := fmt.Sprintf("SELECT count(*) FROM ONLY %s", pgx.Identifier{tables[i].Schema, tables[i].Name}.Sanitize())
		if err := q.QueryRow(ctx, sql).Scan(&tables[i].Rows); err != nil {
			if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege {
				return nil, &ReadDeniedError{Schema: tables[i].Schema, Table: tables[i].Name, Err: err}
			}
			return nil, fmt.Errorf("count %s.%s: %w", tables[i].Schema, tables[i].Name, err)
		}
	}
	return tables, nil
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
