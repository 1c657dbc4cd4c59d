package testdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// TableDigests returns, for every user table of database db, "rows:md5" where md5 covers every row's text form
// in a stable order: two databases with equal digests hold the same content, table by table.
func TableDigests(t testing.TB, db *dbconn.Settings) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Connect(ctx)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatalf("testdb: list tables: %v", err)
	}
	names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgx.Identifier, error) {
		var s, n string
		return pgx.Identifier{s, n}, r.Scan(&s, &n)
	})
	if err != nil {
		t.Fatalf("testdb: list tables: %v", err)
	}
	out := map[string]string{}
	for _, id := range names {
		var n int64
		var sum string
		q := fmt.Sprintf(`SELECT count(*), COALESCE(md5(string_agg(r::text, E'\n' ORDER BY r::text)), '') FROM %s r`, id.Sanitize())
		if err := conn.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
			t.Fatalf("testdb: digest %s: %v", id.Sanitize(), err)
		}
		out[id[0]+"."+id[1]] = fmt.Sprintf("%d:%s", n, sum)
	}
	return out
}
