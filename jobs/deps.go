// Package jobs holds every River job kind (args + worker, one file each) and the client that runs them.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// Deps are what workers share. Built once in run; tests build their own with real databases and storage.
type Deps struct {
	Pool   *pgxpool.Pool
	Q      *queries.Queries
	Cfg    *config.Config
	Store  storage.Store
	Keys   *crypt.Keys // nil only with the explicit BACKUP_UNENCRYPTED opt-out
	Log    *slog.Logger
	PGDump string
	// PGRestore is resolved at start like PGDump; verification and restore need it.
	PGRestore string
	Now       func() time.Time
	// AfterBackup runs once a backup row reached a final state (success or not), outside the job's
	// transaction: follow-up verification, retention and alert evaluation hang off it.
	AfterBackup []func(ctx context.Context, b queries.Backup)
	// Started is when this process's workers started, for the uptime metric.
	Started time.Time
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deps) afterBackup(ctx context.Context, b queries.Backup) {
	for _, f := range d.AfterBackup {
		f(ctx, b)
	}
}

// Job timeouts sized for real dumps: a clinic database is small today, but a backup must never be killed for
// being slow, only for being stuck (which the heartbeat reconciler catches far sooner).
const (
	BackupTimeout = 12 * time.Hour
	// RescueAfter must exceed every job timeout, or River would rescue a job that is still working.
	RescueAfter = BackupTimeout + time.Hour
	// HeartbeatStale is how long a running backup may go without a heartbeat before it is declared dead.
	HeartbeatStale = 2 * time.Minute
)
