package main

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("bootstrap-admin", "create the first admin (once) and print its login", cmdBootstrapAdmin)
}

// cmdBootstrapAdmin gives a fresh install its first admin (BOOTSTRAP_ADMIN_EMAIL, default admin@clinic.local)
// with a generated password printed exactly once. When an active admin exists it changes nothing and never
// prints a password again, so `make run` can call it every time.
func cmdBootstrapAdmin(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bootstrap-admin", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	email := e.getenv("BOOTSTRAP_ADMIN_EMAIL")
	if email == "" {
		email = "admin@clinic.local"
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	q := queries.New(a.pool)
	n, err := q.UserCountActiveAdmins(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(e.stdout, "bootstrap-admin: %d admin account(s) already exist; nothing changed (reset a password in Admin → Users)\n", n)
		return nil
	}
	password := auth.GeneratePassword()
	u, err := auth.CreateUser(ctx, q, email, "Administrator", auth.Admin, password)
	if err != nil {
		return fmt.Errorf("BOOTSTRAP_ADMIN_EMAIL: cannot create %s: %w", email, err)
	}
	cliAudit(ctx, a, q, "user.create", "user:"+u.Email, map[string]any{"role": u.Role, "bootstrap": true})
	fmt.Fprintf(e.stdout, "Admin login: %s / %s\n(shown once; change it under “Your account” after signing in)\n", u.Email, password)
	return nil
}
