package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("create-user", "add a user (password from stdin, or generated and printed once)", cmdCreateUser)
}

func cmdCreateUser(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "create-user", "--email E --role viewer|operator|admin [--name N]  (password: piped on stdin, or generated)")
	email := fs.String("email", "", "the user's e-mail (their login)")
	roleName := fs.String("role", "", "viewer, operator or admin")
	name := fs.String("name", "", "display name")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *roleName == "" {
		return usageErr("--email and --role are required")
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return usageErr(err.Error())
	}
	if _, err := auth.NormalizeEmail(*email); err != nil {
		return usageErr("--email: " + err.Error())
	}
	password, err := passwordFromStdin(e.stdin)
	if err != nil {
		return err
	}
	generated := password == ""
	if generated {
		password = auth.GeneratePassword()
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	q := queries.New(a.pool)
	u, err := auth.CreateUser(ctx, q, *email, *name, role, password)
	if err != nil {
		return err
	}
	cliAudit(ctx, a, q, "user.create", "user:"+u.Email, map[string]any{"role": u.Role, "generated_password": generated})
	fmt.Fprintf(e.stdout, "created %s user %s (#%d)\n", u.Role, u.Email, u.ID)
	if generated {
		fmt.Fprintf(e.stdout, "password (shown once, not stored): %s\n", password)
	}
	return nil
}

// passwordFromStdin reads one line when stdin is a pipe or file; on a terminal (or with nothing piped) it
// returns "" and the caller generates a password, so a password is never typed visibly or left in history.
func passwordFromStdin(r io.Reader) (string, error) {
	if r == nil {
		return "", nil
	}
	if f, ok := r.(*os.File); ok {
		st, err := f.Stat()
		if err != nil || st.Mode()&os.ModeCharDevice != 0 {
			return "", nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw != "" {
		if err := auth.CheckPasswordPolicy(pw); err != nil {
			return "", usageErr("password on stdin: " + err.Error())
		}
	}
	return pw, nil
}

// cliAudit records a state change made from the command line; the actor names the OS user when known.
func cliAudit(ctx context.Context, a *app, q *queries.Queries, action, target string, details any) {
	raw, _ := json.Marshal(details)
	actor := "cli"
	if u := a.getenv("USER"); u != "" {
		actor = "cli:" + u
	}
	if _, err := q.AuditInsert(ctx, queries.AuditInsertParams{Actor: actor, Action: action, Target: target,
		UserAgent: "pisbackup " + action, Details: raw}); err != nil {
		a.log.Error("audit event NOT recorded", "action", action, "target", target, "error", err)
	}
}
