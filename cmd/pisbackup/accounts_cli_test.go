package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

func runWithStdin(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		errb.WriteString(err.Error())
		return out.String(), errb.String(), exitCode(err)
	}
	return out.String(), errb.String(), 0
}

func TestBootstrapAdminPrintsTheLoginOnce(t *testing.T) {
	t.Parallel()
	pool, url := testdb.Catalog(t)
	env := map[string]string{"DATABASE_URL": url, "LOG_FORMAT": "json", "BOOTSTRAP_ADMIN_EMAIL": "head@clinic.test"}
	out, stderr, code := runWithStdin(t, env, "", "bootstrap-admin")
	require.Equal(t, 0, code, stderr)
	m := regexp.MustCompile(`Admin login: (\S+) / (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, "head@clinic.test", m[1])
	u, err := queries.New(pool).UserGetByEmail(context.Background(), m[1])
	require.NoError(t, err)
	require.Equal(t, "admin", u.Role)
	require.NoError(t, auth.VerifyPassword(u.PasswordHash, m[2]))

	out, stderr, code = runWithStdin(t, env, "", "bootstrap-admin")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "already exist")
	require.NotContains(t, out, m[2], "the password is never printed again")
	n, err := queries.New(pool).UserCount(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestCreateUserAndToken(t *testing.T) {
	t.Parallel()
	pool, url := testdb.Catalog(t)
	q := queries.New(pool)
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": url, "LOG_FORMAT": "json", "USER": "ops"}

	// Password piped on stdin: used, never printed.
	out, stderr, code := runWithStdin(t, env, "piped password 1\n", "create-user", "--email", "doc@clinic.test", "--role", "viewer", "--name", "Doc")
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, out, "piped password 1")
	u, err := q.UserGetByEmail(ctx, "doc@clinic.test")
	require.NoError(t, err)
	require.NoError(t, auth.VerifyPassword(u.PasswordHash, "piped password 1"))

	// Nothing piped: generated and printed once.
	out, stderr, code = runWithStdin(t, env, "", "create-user", "--email", "ops@clinic.test", "--role", "operator")
	require.Equal(t, 0, code, stderr)
	m := regexp.MustCompile(`password \(shown once, not stored\): (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	ops, err := q.UserGetByEmail(ctx, "ops@clinic.test")
	require.NoError(t, err)
	require.NoError(t, auth.VerifyPassword(ops.PasswordHash, m[1]))

	_, stderr, code = runWithStdin(t, env, "", "create-user", "--email", "DOC@clinic.test", "--role", "viewer")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "already exists")
	_, _, code = runWithStdin(t, env, "", "create-user", "--email", "x@clinic.test", "--role", "root")
	require.Equal(t, 2, code)
	_, _, code = runWithStdin(t, env, "short\n", "create-user", "--email", "x@clinic.test", "--role", "viewer")
	require.Equal(t, 2, code)

	// Token: printed once on stdout alone; only its SHA-256 is stored; never above the user's role.
	out, stderr, code = runWithStdin(t, env, "", "create-token", "--email", "ops@clinic.test", "--name", "cron", "--expires", "30d")
	require.Equal(t, 0, code, stderr)
	token := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(token, auth.TokenPrefix), out)
	require.NotContains(t, stderr, token)
	sum := sha256.Sum256([]byte(token))
	row, err := q.APITokenGetByHash(ctx, sum[:])
	require.NoError(t, err)
	require.Equal(t, "viewer", row.Role, "a new token defaults to the least role, not the user's")
	require.NotNil(t, row.ExpiresAt)

	_, stderr, code = runWithStdin(t, env, "", "create-token", "--email", "doc@clinic.test", "--name", "up", "--role", "admin")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "cannot exceed")
	_, _, code = runWithStdin(t, env, "", "create-token", "--email", "doc@clinic.test", "--name", "up", "--expires", "soon")
	require.Equal(t, 2, code)

	events, err := q.AuditSearch(ctx, queries.AuditSearchParams{Lim: 100})
	require.NoError(t, err)
	actions := []string{}
	for _, e := range events {
		require.Equal(t, "cli:ops", e.Actor)
		actions = append(actions, e.Action)
	}
	require.ElementsMatch(t, []string{"user.create", "user.create", "token.create"}, actions)
}
