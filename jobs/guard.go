package jobs

import (
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/queries"
)

// NewGuard is the one backup.Guard drills and restores go through: the restore role on the restore server's
// maintenance database (Guard.Admin, which pg_restore's targets are derived from), the configured catalog and
// source to compare targets with, and the catalog's ownership records.
func NewGuard(cfg *config.Config, q *queries.Queries) *backup.Guard {
	return &backup.Guard{Admin: cfg.RestoreServer().WithDatabase("postgres"), AdminVar: cfg.RestoreServerVar(),
		AllowPowerful: cfg.RestoreAllowSuperuser, Catalog: cfg.Catalog, Source: cfg.Source, Q: q}
}
