// Package jobs holds every River job kind (args + worker, one file each) and the client that runs them.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
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
	DrillAfterRestore func(ctx context.Context, scratch *dbconn.Settings) error
	// Started is when this process's workers started, for the uptime metric.
	Started time.Time
	// TickEvery and MetricsEvery override how often the scheduler (30 s) and the health metrics job (15 min)
	// run; tests shorten them. Zero means the default.
	TickEvery, MetricsEvery time.Duration
	// EmailRetryDelay overrides the e-mail job's backoff (EmailBackoff) after failed attempt n; tests shorten it.
	EmailRetryDelay func(attempt int) time.Duration
	// RestartGrace is how long after a database server (re)start the reconciler waits before judging any
	// lease: every worker needs a moment to reconnect and renew. Zero means the stale period itself; tests on
	// a server that started minutes ago set a negative value (no wait) to judge leases they back-dated.
	RestartGrace time.Duration
}

func (d *Deps) restartGrace(stale time.Duration) time.Duration {
	switch {
	case d.RestartGrace < 0:
		return 0
	case d.RestartGrace > 0:
		return d.RestartGrace
	}
	return stale
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

// Job timeouts per kind. The long kinds (backups, verifications, restores, media migrations) may take hours
// and are never killed for being slow, only for being dead, which their lease shows within minutes
// (HeartbeatStale). Bookkeeping kinds get short timeouts so a hung one frees its slot soon.
const (
	BackupTimeout = 12 * time.Hour
	// DefaultJobTimeout bounds every kind that does not say otherwise (e-mail, metrics, alerts, sessions).
	DefaultJobTimeout = 10 * time.Minute
	// TickTimeout bounds one scheduler tick; a tick normally takes milliseconds.
	TickTimeout = time.Minute
	// RetentionTimeout bounds one retention pass.
	RetentionTimeout = 30 * time.Minute
	// ReconcileTimeout bounds one reconciler pass.
	ReconcileTimeout = 5 * time.Minute
	// RescueAfter must exceed every job timeout, or River would rescue a job that is still working. It is a
	// backstop only: the reconciler ends dead work long before.
	RescueAfter = BackupTimeout + time.Hour
	// HeartbeatStale is how long a job's lease may go unrenewed (on the database's clock) before its process
	// is declared dead. BACKUP_HEARTBEAT_TIMEOUT overrides it.
	HeartbeatStale = 2 * time.Minute
)

// staleAfter is HeartbeatStale or the configured override.
func (d *Deps) staleAfter() time.Duration {
	if d.Cfg != nil && d.Cfg.HeartbeatTimeout > 0 {
		return d.Cfg.HeartbeatTimeout
	}
	return HeartbeatStale
}
