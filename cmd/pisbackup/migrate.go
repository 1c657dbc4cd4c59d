package main

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/demo"

	"github.com/uscpis/pisbackup/migrations"
)

func init() {
	register("migrate", "apply pisbackup's and River's database migrations (idempotent)", cmdMigrate)
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "[--create-db]")
	create := fs.Bool("create-db", false, "create pisbackup's database first when it does not exist (development)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *create {
		if err := createCatalogDB(ctx, e); err != nil {
			return err
		}
	}
	a, err := loadCatalog(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	res, err := migrations.Up(ctx, a.pool)
	if err != nil {
		return err
	}
	if len(res.Applied) == 0 && len(res.RiverApplied) == 0 {
		fmt.Fprintln(e.stdout, "migrate: already up to date")
		return nil
	}
	fmt.Fprintf(e.stdout, "migrate: applied %d pisbackup migration(s) %v and %d River migration(s) %v\n",
		len(res.Applied), res.Applied, len(res.RiverApplied), res.RiverApplied)
	return nil
}

// createCatalogDB creates DATABASE_URL's database through the server's "postgres" database when missing.
func createCatalogDB(ctx context.Context, e *env) error {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	if _, err := demo.EnsureDatabaseFor(ctx, cfg.Catalog); err != nil {
		return fmt.Errorf("DATABASE_URL: cannot create pisbackup's database: %s", cfg.ScrubErr(err))
	}
	return nil
}
