// Package testdb gives each test its own real PostgreSQL database, cloned from a template that was migrated
// (or seeded) once, so tests run in parallel without sharing state.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"

	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/migrations"
)

// role is a superuser because drills and restores create databases and restore dumps that own triggers.
var role = pgtestdb.Role{Username: "pisbackup_test", Password: "pisbackup_test", Capabilities: "SUPERUSER"}

func config() pgtestdb.Config {
	return pgtestdb.Config{
		DriverName: "pgx", Host: "127.0.0.1", Port: "5432", User: "postgres", Password: "postgres",
		Database: "postgres", Options: "sslmode=disable", TestRole: &role, ForceTerminateConnections: true,
	}
}

// Catalog returns the URL of a fresh, fully migrated pisbackup database (ours and River's tables) and a pool
// on it that closes when the test ends.
func Catalog(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := pgtestdb.Custom(t, config(), catalogMigrator{}).URL()
	return Pool(t, url), url
}

// Source returns the URL of a fresh copy of the demo clinic database (the PIS shape demo-seed builds).
func Source(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(), sourceMigrator{}).URL()
}

// Empty returns the URL of a fresh database with nothing in it.
func Empty(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(), pgtestdb.NoopMigrator{}).URL()
}

// Pool opens a pgx pool on url and closes it at the end of the test.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

type catalogMigrator struct{}

// Hash changes whenever a migration file changes, so a stale template is never reused.
func (catalogMigrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		fmt.Fprintf(h, "%s\x00%s\x00", path, b)
		return err
	})
	return "catalog-" + hex.EncodeToString(h.Sum(nil))[:16], err
}

func (catalogMigrator) Migrate(ctx context.Context, _ *sql.DB, c pgtestdb.Config) error {
	pool, err := pgxpool.New(ctx, c.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = migrations.Up(ctx, pool)
	return err
}

type sourceMigrator struct{}

// Hash names the demo data's version; bump it when internal/demo changes shape.
func (sourceMigrator) Hash() (string, error) { return "pis-demo-" + demo.Version, nil }

func (sourceMigrator) Migrate(ctx context.Context, _ *sql.DB, c pgtestdb.Config) error {
	_, err := demo.Seed(ctx, c.URL(), demo.Options{Patients: 200, Seed: 1})
	return err
}
