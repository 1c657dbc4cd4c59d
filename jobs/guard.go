package jobs

import (
	"fmt"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/queries"
)

// NewGuard is the one backup.Guard drills and restores go through: the restore role on the restore server's
// maintenance database, the configured catalog and source to compare targets with, and the catalog's
// ownership records. It also returns the admin connection string pg_restore's target is derived from.
func NewGuard(cfg *config.Config, q *queries.Queries) (*backup.Guard, string, error) {
	admin, err := backup.WithDatabase(cfg.RestoreServer(), "postgres")
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", cfg.RestoreServerVar(), err)
	}
	g := &backup.Guard{AdminVar: cfg.RestoreServerVar(), AllowPowerful: cfg.RestoreAllowSuperuser, Q: q}
	for _, p := range []struct {
		dst  **dbconn.Settings
		raw  string
		name string
	}{{&g.Admin, admin, cfg.RestoreServerVar()}, {&g.Catalog, cfg.DatabaseURL, "DATABASE_URL"}, {&g.Source, cfg.SourceDatabaseURL, "SOURCE_DATABASE_URL"}} {
		if *p.dst, err = dbconn.Parse(p.raw); err != nil {
			return nil, "", fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return g, admin, nil
}
