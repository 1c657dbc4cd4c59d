// Package migrations holds pisbackup's own schema as numbered SQL files, embedded in the binary, and applies
// them together with River's tables.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded SQL files; tests hash them to know when the template database is stale.
func FS() fs.FS { return files }

// Result says what Up changed, so `pisbackup migrate` can report it and prove it is idempotent.
type Result struct {
	Applied      []string // our own migration files applied in this run
	RiverApplied []int    // River migration versions applied in this run
}

// Up applies every pending migration of ours and River's. Running it twice changes nothing the second time.
func Up(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	// River first: our tables never reference its tables, and its migrator takes its own lock.
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("river migrator: %w", err)
	}
	rr, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range rr.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// A session advisory lock keeps two processes (a release phase and a test run, say) from racing.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return res, fmt.Errorf("goose locker: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker),
		// Parallel work lands migrations numbered by topic, not by date: apply a lower number that arrives
		// after a higher one instead of refusing to start.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return res, fmt.Errorf("goose provider: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		res.Applied = append(res.Applied, r.Source.Path)
	}
	return res, nil
}

// Pending lists what Up would still apply: our files by name and River's migrations as River describes them.
// An empty list means the catalog is fully migrated; a catalog never migrated has everything pending. It takes
// no lock and changes nothing, so every command can say "run pisbackup migrate" instead of failing on a missing
// table, and preflight can name what is missing.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	var pending []string
	var table *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version')::text").Scan(&table); err != nil {
		return nil, err
	}
	applied := map[int64]bool{}
	if table != nil {
		rows, err := pool.Query(ctx, "SELECT version_id FROM goose_db_version WHERE is_applied")
		if err != nil {
			return nil, err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			applied[v] = true
		}
	}
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		if !applied[v] {
			pending = append(pending, name)
		}
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Validate(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if !res.OK {
		pending = append(pending, res.Messages...)
	}
	return pending, nil
}
