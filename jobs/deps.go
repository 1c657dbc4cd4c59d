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
	Pool  *pgxpool.Pool
	Q     *queries.Queries
	Cfg   *config.Config
	Store storage.Store
	Keys  *crypt.Keys // nil only with the explicit BACKUP_UNENCRYPTED opt-out
	Log   *slog.Logger
	Now   func() time.Time
	// AfterBackup runs once a backup row reached a final state (success or not), outside the job's
	// transaction: follow-up verification, retention and alert evaluation hang off it.
	AfterBackup []func(ctx context.Context, b queries.Backup)
	// DrillAfterRestore, when set, runs between a drill's restore and its comparison; tests tamper with the
	// scratch database through it to prove the comparison notices. Nil in production.
	DrillAfterRestore func(ctx context.Context, scratchURL string) error
	// Started is when this process's workers started, for the uptime metric.
	Started time.Time
	// TickEvery and MetricsEvery override how often the scheduler (30 s) and the health metrics job (15 min)
	// run; tests shorten them. Zero means the default.
	TickEvery, MetricsEvery time.Duration
	// EmailRetryDelay overrides the e-mail job's backoff (EmailBackoff) after failed attempt n; tests shorten it.
	EmailRetryDelay func(attempt int) time.Duration
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deps) afterBackup(ctx context.Context, b queries.Backup) {
	for _, f := range afterBackupHooks {
		f(ctx, d, b)
	}
	for _, f := range d.AfterBackup {
		f(ctx, b)
	}
}

// afterBackupHooks run for every Deps (tests' included) before d.AfterBackup; job files add theirs from init.
var afterBackupHooks []func(ctx context.Context, d *Deps, b queries.Backup)

// Job timeouts sized for real dumps: a clinic database is small today, but a backup must never be killed for
// being slow, only for being stuck (which the heartbeat reconciler catches far sooner).
const (
	BackupTimeout = 12 * time.Hour
	// RescueAfter must exceed every job timeout, or River would rescue a job that is still working.
	RescueAfter = BackupTimeout + time.Hour
	// HeartbeatStale is how long a running backup may go without a heartbeat before it is declared dead.
	HeartbeatStale = 2 * time.Minute
)
