package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/secret"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/migrations"
	"github.com/uscpis/pisbackup/queries"
)

// app is everything a command may need, built lazily so `migrate` does not demand pg_dump, say.
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	getenv func(string) string
}

// loadApp reads configuration and connects to pisbackup's own database, which must be fully migrated.
func loadApp(ctx context.Context, e *env) (*app, error) {
	a, err := loadCatalog(ctx, e)
	if err != nil {
		return nil, err
	}
	pending, err := migrations.Pending(ctx, a.pool)
	if err == nil && len(pending) > 0 {
		err = errors.New("DATABASE_URL: pisbackup's database is not migrated (or this binary is newer): run `pisbackup migrate` first")
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// loadCatalog is loadApp without the migration check, for `migrate` itself.
func loadCatalog(ctx context.Context, e *env) (*app, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: newLogger(cfg, e.stderr), getenv: e.getenv}
	a.pool, err = connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// loadDeps is loadApp plus the worker dependencies, for every command that touches backups; on error nothing
// is left open.
func loadDeps(ctx context.Context, e *env) (*app, *jobs.Deps, error) {
	a, err := loadApp(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	d, err := a.deps(ctx)
	if err != nil {
		a.close()
		return nil, nil, err
	}
	return a, d, nil
}

func (a *app) close() {
	if a.pool != nil {
		a.pool.Close()
	}
}

// connect opens a pool and proves the database answers, with an error that names the variable and never
// the password.
func connect(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	pc, err := cfg.Catalog.PoolConfig()
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	pc.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: cannot reach pisbackup's database %s: %s", cfg.Catalog, cfg.ScrubErr(err))
	}
	return pool, nil
}

// deps builds the worker dependencies: storage (checked writable), keys (generated in development) and the
// PostgreSQL client tools (checked present). Every problem here is reported before any work starts.
func (a *app) deps(ctx context.Context) (*jobs.Deps, error) {
	d := &jobs.Deps{Pool: a.pool, Q: queries.New(a.pool), Cfg: a.cfg, Log: a.log, Started: time.Now()}
	// A failed backup alerts the moment it fails; its schedule's next success sends the recovery notice.
	d.AfterBackup = append(d.AfterBackup, jobs.AlertOnBackup(d))
	// Which client fits which server is decided per job (the servers may be upgraded meanwhile); here only
	// that some client is installed at all, so a dyno without one fails at start.
	for _, prog := range []string{"pg_dump", "pg_restore"} {
		if _, err := a.cfg.PGClients.Newest(ctx, prog); err != nil {
			return nil, err
		}
	}
	var err error
	if d.Store, err = storage.Open(ctx, a.cfg.BackupStorage, a.getenv); err != nil {
		return nil, err
	}
	if err := d.Store.CheckWritable(ctx); err != nil {
		return nil, fmt.Errorf("BACKUP_STORAGE: %w", err)
	}
	if d.Keys, err = a.keys(); err != nil {
		return nil, err
	}
	return d, nil
}

// devIdentityFile is where development creates its key pair when BACKUP_AGE_IDENTITY_FILE is unset.
var devIdentityFile = filepath.Join("var", "age", "identity.txt")

// keys loads age keys; in development (nothing configured) it creates var/age/identity.txt and says so loudly.
func (a *app) keys() (*crypt.Keys, error) {
	k, err := crypt.Load(a.cfg.AgeRecipients, a.cfg.AgeIdentityFile, devIdentityFile)
	if err != nil {
		return nil, err
	}
	if k.Generated {
		a.log.Warn("GENERATED A NEW BACKUP ENCRYPTION KEY for development. Without it no backup can be restored: "+
			"production must set BACKUP_AGE_RECIPIENTS and keep the identity file offline, e.g. printed in the safe.",
			"identity_file", k.IdentityFile, "recipient", k.Public[0])
	}
	if a.cfg.Unencrypted {
		a.log.Warn("BACKUP_UNENCRYPTED=true: new backups are NOT encrypted")
		// Identities stay loaded so older encrypted backups can still be verified and restored.
		return &crypt.Keys{Identities: k.Identities, IdentityFile: k.IdentityFile}, nil
	}
	return k, nil
}

// newLogger logs JSON when stderr is not a terminal (Heroku, CI) and text when a person is watching.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(secret.Handler(h, cfg.Secrets())) // no log line carries a configured secret
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
