package backup

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
)

// ClientFor picks program (pg_dump or pg_restore) for the server server connects to: the newest installed
// client whose major version is at least the server's (pgclient.Finder.For). Drills and restores ask with
// the restore server; dumps ask with the source inside DumpDatabase. Errors name the server's version and
// every client found.
func ClientFor(ctx context.Context, f pgclient.Finder, program string, server *dbconn.Settings) (pgclient.Choice, error) {
	v, err := ServerVersion(ctx, server)
	if err != nil {
		return pgclient.Choice{}, err
	}
	return f.For(ctx, program, v)
}

// ServerVersion is the server_version setting ("16.4 (Ubuntu 16.4-1.pgdg24.04+1)") of the server db
// connects to, as the server itself reports it at connection start.
func ServerVersion(ctx context.Context, db *dbconn.Settings) (string, error) {
	conn, err := db.Connect(ctx)
	if err != nil {
		return "", fmt.Errorf("connect to the database server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.PgConn().ParameterStatus("server_version"), nil
}
