package backup

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ErrProtectedTarget is wrapped by every refusal of a restore target pisbackup must not write into (see
// Guard.CheckTarget).
var ErrProtectedTarget = errors.New("refused")

// DrillPrefix starts every drill scratch database name (pisbackup_drill_<installation>_<verification id>, see
// ScratchName); no restore may target a name with it.
const DrillPrefix = "pisbackup_drill_"

// DatabaseExists reports whether name exists on the server admin connects to.
func DatabaseExists(ctx context.Context, admin *dbconn.Settings, name string) (bool, error) {
	conn, err := admin.Connect(ctx)
	if err != nil {
		return false, fmt.Errorf("connect to the database server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	return ok, err
}
