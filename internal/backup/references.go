package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// FileColumnValues is what the clinic database stores in its FileField columns.
type FileColumnValues struct {
	// Values maps "table.column" to its distinct non-empty values, sorted, as Django keeps them (relative to
	// MEDIA_ROOT, or a storage name).
	Values map[string][]string
	// Missing are configured columns the database does not have (table or column absent), in the order given.
	Missing []string
}

// ReadFileColumns reads every distinct non-empty value of the given "table.column" FileField columns from the
// clinic database. A column that does not exist is listed in Missing (asked of the server through
// to_regclass and pg_attribute, in the connection's search_path), never guessed from a name; any other
// failure is an error.
func ReadFileColumns(ctx context.Context, source *dbconn.Settings, columns []string) (*FileColumnValues, error) {
	conn, err := source.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the source database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	out := &FileColumnValues{Values: map[string][]string{}}
	for _, tc := range columns {
		table, col, ok := strings.Cut(tc, ".")
		if !ok {
			return nil, fmt.Errorf("media reference column %q is not table.column", tc)
		}
		var exists bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped)`,
			pgx.Identifier{table}.Sanitize(), col).Scan(&exists)
		if err != nil {
			return nil, fmt.Errorf("look up media reference column %s: %w", tc, err)
		}
		if !exists {
			out.Missing = append(out.Missing, tc)
			continue
		}
		q := fmt.Sprintf("SELECT DISTINCT %s::text FROM %s WHERE %s IS NOT NULL AND %s::text <> ''",
			pgx.Identifier{col}.Sanitize(), pgx.Identifier{table}.Sanitize(),
			pgx.Identifier{col}.Sanitize(), pgx.Identifier{col}.Sanitize())
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read media references from %s: %w", tc, err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("read media references from %s: %w", tc, err)
		}
		sortStrings(vals)
		out.Values[tc] = vals
	}
	return out, nil
}

// Paths returns every distinct value of the given columns (relative to MEDIA_ROOT, a leading "/" dropped),
// sorted: the media paths the clinic database points at.
func (fc *FileColumnValues) Paths(columns []string) []string {
	seen := map[string]bool{}
	var refs []string
	for _, tc := range columns {
		for _, p := range fc.Values[tc] {
			p = strings.TrimPrefix(p, "/")
			if !seen[p] {
				seen[p] = true
				refs = append(refs, p)
			}
		}
	}
	sortStrings(refs)
	return refs
}
