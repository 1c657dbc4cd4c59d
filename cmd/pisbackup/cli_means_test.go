package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// A command means what it says: words it does not take, values it does not know and a catalog it cannot use
// are refused in one line naming what to fix (issue 20).
func TestCLIRefusesWhatItWouldIgnore(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"extra word", nil, []string{"create-backup", "media"}, 2, `unexpected argument "media"`},
		{"extra word after flags", nil, []string{"list-backups", "--limit", "3", "all"}, 2, `unexpected argument "all"`},
		{"extra word to an ID command", nil, []string{"verify-backup", "1", "2"}, 2, "give one backup ID"},
		{"unknown kind", nil, []string{"list-backups", "--kind", "tape"}, 2, "--kind must be one of"},
		{"unknown status", nil, []string{"list-backups", "--status", "nope"}, 2, "--status must be one of"},
		{"verify without waiting", nil, []string{"create-backup", "--verify", "drill", "--no-wait"}, 2, "--no-wait"},
		{"never migrated", map[string]string{"DATABASE_URL": testdb.Empty(t)}, []string{"list-backups"}, 1, "run `pisbackup migrate`"},
		{"bad listen address", nil, []string{"serve", "--addr", "nonsense"}, 2, "--addr must be HOST:PORT"},
		{"not an e-mail", nil, []string{"create-user", "--email", "notanemail", "--role", "viewer"}, 2, "--email"},
		{"unreachable catalog", map[string]string{"DATABASE_URL": "postgres://u:pw-secret@localhost:1/x"}, []string{"list-backups"}, 1, "DATABASE_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := maps.Clone(env)
			maps.Copy(e, c.env)
			var out, errb bytes.Buffer
			err := run(context.Background(), c.args, func(k string) string { return e[k] }, strings.NewReader(""), &out, &errb)
			require.Error(t, err)
			require.Equal(t, c.code, exitCode(err), err.Error())
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n", "one line, not several")
			require.NotContains(t, err.Error(), "pw-secret")
			if c.name == "not an e-mail" {
				_, _, code := runCLI(t, e, "list-backups", "--json")
				require.Equal(t, 0, code, "a usage error must not have needed the catalog to be wrong")
			}
		})
	}
}

// `create-backup --verify drill` runs the drill it promises and fails when it fails.
func TestCreateBackupVerifyRunsTheVerification(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	out, stderr, code := runCLI(t, env, "create-backup", "--type", "database", "--verify", "archive")
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "(archive): succeeded")
	out, _, code = runCLI(t, env, "list-backups", "--json")
	require.Equal(t, 0, code)
	pool := testdb.Pool(t, env["DATABASE_URL"])
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM verifications WHERE level = 'archive' AND status = 'succeeded'`).Scan(&n))
	require.Equal(t, 1, n, out)
}

// A backup without an artifact says what happened, not ": , 0 B stored".
func TestPrintBackupWithoutArtifact(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	e := &env{stdout: &out}
	require.NoError(t, printBackup(e, queries.Backup{ID: 7, Kind: "database", Status: "failed", Error: "pg_dump: permission denied"}, false))
	require.Equal(t, "backup #7 database failed\nerror: pg_dump: permission denied\n", out.String())
}

// The media dry run says when Cloudinary is not configured instead of promising uploads.
func TestMigrateDryRunSaysCloudinaryIsNotConfigured(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["CLOUDINARY_URL"] = ""
	require.NoError(t, os.MkdirAll(env["MEDIA_ROOT"], 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(env["MEDIA_ROOT"], "a.pdf"), []byte("%PDF"), 0o600))
	out, stderr, code := runCLI(t, env, "migrate-to-cloudinary", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Cloudinary is not configured")
}

// demo-seed and migrate --create-db accept every connection form (issue 20: a keyword/value
// SOURCE_DATABASE_URL failed with "cannot parse `/postgres`").
func TestDemoSeedAcceptsKeywordValueConnection(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	src, err := url.Parse(testdb.Empty(t))
	require.NoError(t, err)
	pw, _ := src.User.Password()
	name := strings.TrimPrefix(src.Path, "/") + "_kv" // does not exist yet: demo-seed creates it
	host, port, _ := net.SplitHostPort(src.Host)
	env["SOURCE_DATABASE_URL"] = fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=%s sslmode=disable",
		host, port, src.User.Username(), pw, name)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testdb.AdminURL)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	out, stderr, code := runCLI(t, env, "demo-seed", "--patients", "3")
	require.Equal(t, 0, code, stderr+out)
	require.NotContains(t, out+stderr, pw)
}
