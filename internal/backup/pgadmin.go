package backup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// WithDatabase returns the connection string raw pointing at database name on the same server, with the
// same user, password and options. Both postgres:// URLs and libpq keyword/value strings are accepted.
func WithDatabase(raw, name string) (string, error) {
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := url.Parse(raw)
		if err != nil {
			return "", errors.New("not a valid postgres:// URL")
		}
		u.Path, u.RawPath = "/"+name, ""
		return u.String(), nil
	}
	// libpq takes the last occurrence of a keyword, so appending overrides any dbname already given.
	return raw + " dbname='" + strings.ReplaceAll(name, "'", `\'`) + "'", nil
}

// DBLocation is a database identified by server and name, for "is this the same database?" checks.
type DBLocation struct {
	Server   string // normalised host:port; every local address and socket is "local"
	Database string
}

// Locate parses a connection string into its server and database. Local sockets, localhost, 127.0.0.1 and ::1
// all count as one server: on one machine they reach the same cluster, and erring towards "same" is what keeps
// a restore away from the catalog and the clinic database.
func Locate(raw string) (DBLocation, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return DBLocation{}, errors.New("cannot parse connection string") // pgx's text may echo the password
	}
	host := strings.ToLower(cfg.Host)
	if host == "" || strings.HasPrefix(host, "/") || host == "localhost" || host == "127.0.0.1" || host == "::1" {
		host = "local"
	}
	return DBLocation{Server: fmt.Sprintf("%s:%d", host, cfg.Port), Database: cfg.Database}, nil
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ErrProtectedTarget is returned when a restore would write into a database pisbackup must never touch.
var ErrProtectedTarget = errors.New("refused")

// CheckRestoreTarget refuses restore targets that would damage something: pisbackup's own catalog, the clinic
// database it backs up, PostgreSQL's system databases and drill scratch databases. targetURL and the others
// are full connection strings; servers and names are compared, not strings.
func CheckRestoreTarget(targetURL, catalogURL, sourceURL string) error {
	t, err := Locate(targetURL)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if !dbNameRE.MatchString(t.Database) {
		return fmt.Errorf("target database name %q is not allowed: use letters, digits and _ (at most 63)", t.Database)
	}
	switch t.Database {
	case "postgres", "template0", "template1":
		return fmt.Errorf("%w: %q is a PostgreSQL system database", ErrProtectedTarget, t.Database)
	}
	if strings.HasPrefix(t.Database, DrillPrefix) {
		return fmt.Errorf("%w: %q is reserved for restore drills", ErrProtectedTarget, t.Database)
	}
	for _, p := range []struct{ url, what string }{{catalogURL, "pisbackup's own catalog database"}, {sourceURL, "the clinic (source) database"}} {
		loc, err := Locate(p.url)
		if err != nil {
			return fmt.Errorf("%w: cannot tell whether the target is %s", ErrProtectedTarget, p.what)
		}
		if loc == t {
			return fmt.Errorf("%w: %q is %s; restore into a new database and switch over deliberately", ErrProtectedTarget, t.Database, p.what)
		}
	}
	return nil
}

// DrillPrefix names scratch databases; drills create pisbackup_drill_<verification id>.
const DrillPrefix = "pisbackup_drill_"

// DatabaseExists reports whether name exists on the server adminURL connects to.
func DatabaseExists(ctx context.Context, adminURL, name string) (bool, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return false, fmt.Errorf("connect to the database server: %s", RedactError(err, adminURL))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	return ok, err
}

// CreateDatabase creates an empty database name (from template0, so nothing local leaks in); with replace it
// first drops an existing one, disconnecting its sessions.
func CreateDatabase(ctx context.Context, adminURL, name string, replace bool) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the database server: %s", RedactError(err, adminURL))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id := pgx.Identifier{name}.Sanitize()
	if replace {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+id+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase removes name, disconnecting its sessions. It deliberately ignores ctx's cancellation (a
// cancelled drill must still clean up) but bounds itself to a minute.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the database server: %s", RedactError(err, adminURL))
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}
