package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// MediaReferences returns every distinct media path the clinic database stores in the given FileField
// columns ("table.column", as Django keeps them: relative to MEDIA_ROOT). A column that does not exist is an
// error naming it, so a typo in MEDIA_REFERENCE_COLUMNS cannot pass as "nothing missing".
func MediaReferences(ctx context.Context, sourceURL string, columns []string) ([]string, error) {
	conn, err := pgx.Connect(ctx, sourceURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the source database: %s", RedactError(err, sourceURL))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	seen := map[string]bool{}
	var out []string
	for _, tc := range columns {
		table, col, ok := strings.Cut(tc, ".")
		if !ok {
			return nil, fmt.Errorf("media reference column %q is not table.column", tc)
		}
		q := fmt.Sprintf("SELECT DISTINCT %s::text FROM %s WHERE %s IS NOT NULL AND %s::text <> ''",
			pgx.Identifier{col}.Sanitize(), pgx.Identifier{table}.Sanitize(),
			pgx.Identifier{col}.Sanitize(), pgx.Identifier{col}.Sanitize())
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read media references from %s: %w", tc, err)
		}
		paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("read media references from %s: %w", tc, err)
		}
		for _, p := range paths {
			p = strings.TrimPrefix(p, "/")
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sortStrings(out)
	return out, nil
}
