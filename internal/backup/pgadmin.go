package backup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

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

var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ErrProtectedTarget is wrapped by every refusal of a restore target pisbackup must not write into (see
// Guard.CheckTarget).
var ErrProtectedTarget = errors.New("refused")

// DrillPrefix starts every drill scratch database name (pisbackup_drill_<installation>_<verification id>, see
// ScratchName); no restore may target a name with it.
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
