package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("create-token", "issue an API token for a user (printed once)", cmdCreateToken)
}

// cmdCreateToken prints the token alone on stdout (so `TOKEN=$(pisbackup create-token …)` works) and the
// details on stderr.
func cmdCreateToken(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "create-token", "--email E --name N [--role R] [--expires 90d|never]")
	email := fs.String("email", "", "the token's user")
	name := fs.String("name", "", "what the token is for, e.g. \"uptime monitor\"")
	roleName := fs.String("role", "viewer", "viewer, operator or admin (default: viewer, the least role; never above the user's)")
	expires := fs.String("expires", "90d", "lifetime: 90d, 12h, or never")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" {
		return usageErr("--email and --name are required")
	}
	role := auth.Public
	if *roleName != "" {
		var err error
		if role, err = auth.ParseRole(*roleName); err != nil {
			return usageErr(err.Error())
		}
	}
	ttl, err := auth.ParseExpiry(*expires)
	if err != nil {
		return usageErr("--expires: " + err.Error())
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	q := queries.New(a.pool)
	u, err := q.UserGetByEmail(ctx, *email)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("no user with e-mail %s (create it with create-user)", *email)
	} else if err != nil {
		return err
	}
	token, row, err := auth.CreateToken(ctx, q, u, *name, role, ttl, time.Now())
	if err != nil {
		return err
	}
	cliAudit(ctx, a, q, "token.create", "token:"+strconv.FormatInt(row.ID, 10),
		map[string]any{"name": row.Name, "user": u.Email, "role": row.Role, "prefix": row.Prefix, "expires_at": row.ExpiresAt})
	exp := "never expires"
	if row.ExpiresAt != nil {
		exp = "expires " + row.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(e.stderr, "token #%d %q for %s, role %s, %s. It is shown once and only its SHA-256 is stored:\n",
		row.ID, row.Name, u.Email, row.Role, exp)
	fmt.Fprintln(e.stdout, token)
	return nil
}
