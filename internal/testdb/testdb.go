// Package testdb gives each test its own real PostgreSQL database, cloned from a template that was migrated
// (or seeded) once, so tests run in parallel without sharing state.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/migrations"
)

// Role is the login tests drill and restore as (their RESTORE_DATABASE_URL, see RestoreURL). It is deliberately
// what production asks of RESTORE_DATABASE_URL (see backup.CheckRestoreRole): NOSUPERUSER, CREATEDB, no
// CREATEROLE, none of pg_execute_server_program / pg_read_server_files / pg_write_server_files, and owner of
// no database pisbackup did not create, so drills and restores in tests run a dump's SQL with exactly the power
// they have in production. The test databases themselves (clinic sources and catalogs) belong to OwnerRole, as
// the clinic database belongs to the clinic app's role and not to the restore role. Both passwords are random
// per machine (see rolePassword), so the logins the server keeps between runs are neither superusers nor
// guessable. The superuser is used only by the harness itself, to create the roles, the templates and the
// per-test databases and to drop them again.
const Role = "pisbackup_test_restore"

// OwnerRole owns every test database (Catalog, Source, Empty) and is the login their URLs carry, as the clinic
// app's role owns the clinic database. pisbackup refuses a restore role that owns, or can become the owner of,
// a database it did not create, so tests never drill as this role.
const OwnerRole = "pisbackup_test_owner"

// RoleCapabilities are the attributes both test roles are created with.
const RoleCapabilities = "NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS INHERIT"

// AdminURL connects to the test server's maintenance database as the superuser the harness uses to create and
// drop test databases. Tests use it only to inspect or arrange the server (create a superuser-owned database
// to prove pisbackup refuses it, say), never as the URL pisbackup itself runs with.
var AdminURL = func() string {
	host, port := server()
	return fmt.Sprintf("postgres://postgres:postgres@%s:%s/postgres?sslmode=disable", host, port)
}()

// server is the PostgreSQL server tests use: 127.0.0.1:5432 unless TESTDB_HOST / TESTDB_PORT say otherwise
// (`make faults` points them at a throwaway cluster of its own, see internal/faults/run.sh).
func server() (host, port string) {
	host, port = os.Getenv("TESTDB_HOST"), os.Getenv("TESTDB_PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "5432"
	}
	return host, port
}

// Every test binary that uses a test database hashes passwords at bcrypt's minimum cost (see
// auth.UseFastHashesForTests); production hashes at cost 12.
func init() { auth.UseFastHashesForTests() }

func config(t testing.TB) pgtestdb.Config {
	roleOnce.Do(func() { rolePW, roleSetupErr = setUpRole() })
	if roleSetupErr != nil {
		t.Fatalf("testdb: %v", roleSetupErr)
	}
	host, port := server()
	return pgtestdb.Config{
		DriverName: "pgx", Host: host, Port: port, User: "postgres", Password: "postgres",
		Database: "postgres", Options: "sslmode=disable", ForceTerminateConnections: true,
		TestRole: &pgtestdb.Role{Username: OwnerRole, Password: rolePW, Capabilities: RoleCapabilities},
	}
}

var (
	roleOnce     sync.Once
	rolePW       string
	roleSetupErr error
)

// setUpRole reads (or creates) this machine's password for the test roles, creates Role when it is missing and
// sets the password of both roles again as the superuser: every test process on the machine reads the same
// file, so they agree, and a role left with another password (a lost cache file) is brought back in line.
// pgtestdb creates OwnerRole itself when it is missing.
func setUpRole() (string, error) {
	pw, err := rolePassword()
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, AdminURL)
	if err != nil {
		return "", fmt.Errorf("connect as admin: %w", err)
	}
	defer conn.Close(ctx)
	// Test binaries of several packages start at once; two ALTER ROLEs of the same role at the same moment fail
	// with "tuple concurrently updated". One process at a time (released when conn closes).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('pisbackup testdb role setup'))"); err != nil {
		return "", fmt.Errorf("lock test role setup: %w", err)
	}
	for _, role := range []string{Role, OwnerRole} {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
			return "", err
		}
		switch {
		case exists:
			_, err = conn.Exec(ctx, "ALTER ROLE "+role+" PASSWORD '"+pw+"'")
		case role == Role:
			_, err = conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD '"+pw+"' "+RoleCapabilities)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505") {
				err = nil // another test process created it a moment ago, with the same password
			}
		}
		if err != nil {
			return "", fmt.Errorf("set up test role %s: %w", role, err)
		}
	}
	// Harnesses before issue 13's owner rule made Role own every test database and template; pisbackup now
	// refuses a restore role owning databases it did not create, so those left on the server go to OwnerRole.
	rows, err := conn.Query(ctx, `SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
		WHERE r.rolname = $1 AND d.datname LIKE 'testdb\_%'`, Role)
	if err != nil {
		return "", err
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, name := range old {
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER TO "+OwnerRole); err != nil {
			return "", fmt.Errorf("give the old test database %s to %s: %w", name, OwnerRole, err)
		}
	}
	return pw, nil
}

// RestoreURL is dbURL logging in as Role (the test restore role) instead of the database's owner: what tests
// put in RESTORE_DATABASE_URL or a backup.Guard's Admin. The database name is kept; the role may connect to
// every test database (PUBLIC has CONNECT) but owns none of them.
func RestoreURL(t testing.TB, dbURL string) string {
	t.Helper()
	config(t) // the role exists and rolePW is set
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		t.Fatalf("testdb: RestoreURL needs a postgres:// URL")
	}
	u.User = url.UserPassword(Role, rolePW)
	return u.String()
}

// rolePassword is 32 random hex digits kept in the user's cache directory (…/pisbackup/test-role-password,
// mode 0600), created on first use. Servers asking for passwords (scram-sha-256 over TCP, as a stock Debian
// cluster does) need one; keeping it per machine keeps the template databases' names stable across runs.
func rolePassword() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "pisbackup")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "test-role-password")
	var b [16]byte
	_, _ = rand.Read(b[:])
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.WriteString(hex.EncodeToString(b[:]))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	for range 50 { // another process may have created it a moment ago and still be writing
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		if pw := strings.TrimSpace(string(raw)); len(pw) == 32 {
			return pw, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("%s does not hold a 32-digit password; delete it and rerun", file)
}

// custom is pgtestdb.Custom after proving, once per process, that the test role is as weak as production's
// restore role must be: a role left by an older harness with more power would silently let tests pass that
// production refuses.
func custom(t testing.TB, m pgtestdb.Migrator) string {
	t.Helper()
	url := pgtestdb.Custom(t, config(t), m).URL()
	roleChecked.Do(func() { roleErr = checkRole(RestoreURL(t, url)) })
	if roleErr != nil {
		t.Fatalf("testdb: %v", roleErr)
	}
	return url
}

var (
	roleChecked sync.Once
	roleErr     error
)

func checkRole(url string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var super, createRole, createDB bool
	err = conn.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`).Scan(&super, &createRole, &createDB)
	if err != nil {
		return err
	}
	if super || createRole || !createDB {
		return fmt.Errorf("role %s must be NOSUPERUSER NOCREATEROLE CREATEDB (superuser %t, createrole %t, createdb %t); "+
			"drop it (see README, \"Tests\") and rerun", Role, super, createRole, createDB)
	}
	return nil
}

// Catalog returns the URL of a fresh, fully migrated pisbackup database (ours and River's tables) and a pool
// on it that closes when the test ends.
func Catalog(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := custom(t, catalogMigrator{})
	return Pool(t, url), url
}

// Source returns the URL of a fresh copy of the demo clinic database (the PIS shape demo-seed builds).
func Source(t testing.TB) string {
	t.Helper()
	return custom(t, sourceMigrator{})
}

// Empty returns the URL of a fresh database with nothing in it.
func Empty(t testing.TB) string {
	t.Helper()
	return custom(t, pgtestdb.NoopMigrator{})
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
	_, err := demo.Seed(ctx, dbconn.MustParse(c.URL()), demo.Options{Patients: 200, Seed: 1})
	return err
}

// DropDatabase drops database name (if it exists) as the harness superuser, disconnecting its sessions. Tests
// use it from t.Cleanup for databases they made pisbackup create (restore targets), which pisbackup itself
// drops only when it marked them as its own.
func DropDatabase(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, AdminURL)
	if err != nil {
		t.Errorf("testdb: connect as admin: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("testdb: drop %s: %v", name, err)
	}
}

// DatabaseName is the database url connects to, as libpq resolves it (pgx.ParseConfig).
func DatabaseName(t testing.TB, url string) string { return parseURL(t, url).Database }

// UserName is the role url logs in as.
func UserName(t testing.TB, url string) string { return parseURL(t, url).User }

func parseURL(t testing.TB, url string) *pgx.ConnConfig {
	t.Helper()
	c, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("testdb: cannot parse a connection string: %v", err)
	}
	return c
}
