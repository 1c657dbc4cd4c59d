package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
)

// LoginRole creates a login role for this test with the given attributes (e.g. "CREATEDB", "SUPERUSER", or "" for
// none) and returns dbURL rewritten to log in as it. The role, and anything granted to it, is dropped when
// the test ends, so no login lingers on the server.
func LoginRole(t testing.TB, dbURL, attrs string) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pisbackup_t_" + hex.EncodeToString(b)
	// Not the name: pisbackup scrubs every configured password from what it shows, and a password equal to
	// the role name would hide the name in every message too.
	password := "pw_" + hex.EncodeToString(b)
	admin := AdminURL
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE ROLE "+name+" LOGIN PASSWORD '"+password+"' "+attrs); err != nil {
		t.Fatalf("testdb: create role: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testdb: drop role %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		// Grants on the test's databases go with DROP OWNED, run in each database that may hold them.
		if u, err := url.Parse(dbURL); err == nil {
			u.User = url.UserPassword("postgres", "postgres")
			if dc, err := pgx.Connect(ctx, u.String()); err == nil {
				_, _ = dc.Exec(ctx, "DROP OWNED BY "+name)
				dc.Close(ctx)
			}
		}
		_, _ = c.Exec(ctx, "DROP OWNED BY "+name)
		if _, err := c.Exec(ctx, "DROP ROLE IF EXISTS "+name); err != nil {
			t.Errorf("testdb: drop role %s: %v", name, err)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	u.User = url.UserPassword(name, password)
	return u.String()
}
