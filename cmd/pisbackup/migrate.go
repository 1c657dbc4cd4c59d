package main

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/migrations"
)

func init() {
	register("migrate", "apply pisbackup's and River's database migrations (idempotent)", cmdMigrate)
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := loadApp(ctx, e)
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
