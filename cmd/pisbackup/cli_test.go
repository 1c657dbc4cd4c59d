package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/pgclient/pgclienttest"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// cliEnv is a complete environment for one test: its own catalog, demo source, storage and key.
func cliEnv(t *testing.T) map[string]string {
	t.Helper()
	_, catalog := testdb.Catalog(t)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	key := filepath.Join(dir, "identity.txt")
	require.NoError(t, os.WriteFile(key, []byte(id.String()+"\n"), 0o600))
	src := testdb.Source(t)
	return map[string]string{
		"DATABASE_URL": catalog, "SOURCE_DATABASE_URL": src, "RESTORE_DATABASE_URL": testdb.RestoreURL(t, src),
		"BACKUP_STORAGE": "file://" + filepath.Join(dir, "backups"), "BACKUP_AGE_IDENTITY_FILE": key,
		"MEDIA_ROOT": filepath.Join(dir, "media"), "LOG_FORMAT": "json",
	}
}

// runCLI runs the command in-process and returns stdout, stderr and the exit code main would use.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	code := 0
	if err != nil {
		code = exitCode(err)
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

func TestCreateBackupJSON(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	out, stderr, code := runCLI(t, env, "create-backup", "--type", "database", "--json")
	require.Equal(t, 0, code, stderr)
	var got backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, "succeeded", got.Status)
	require.Equal(t, "cli", got.Trigger)
	require.Len(t, got.SHA256, 64)
	require.Positive(t, got.Size)
	require.FileExists(t, filepath.Join(strings.TrimPrefix(env["BACKUP_STORAGE"], "file://"), got.StorageKey))

	out, _, code = runCLI(t, env, "list-backups", "--json")
	require.Equal(t, 0, code)
	require.Contains(t, out, got.SHA256)
}

func TestCreateBackupDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["SOURCE_DATABASE_URL"] = "postgres://clinic:topsecret@db.example:5432/pis"
	out, stderr, code := runCLI(t, env, "create-backup", "--dry-run")
	// The source cannot be reached, so tonight's backup would fail: the dry run says so and exits 1.
	require.Equal(t, 1, code, stderr)
	require.Contains(t, out, "nothing was changed")
	require.Contains(t, out, "xxxxx")
	require.Contains(t, stderr, "this backup would fail")
	require.NotContains(t, out+stderr, "topsecret")
	out, _, _ = runCLI(t, env, "list-backups", "--json")
	require.JSONEq(t, "[]", out)
}

// --dry-run shows the pg_dump a backup would run, its version, the server's and whether they fit, with the
// same choice the backup makes: the newest installed client of at least the server's major.
func TestCreateBackupDryRunShowsClientChoice(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	root := pgclienttest.Layout(t, "14.9", "15.20", "17.1")
	env["PG_CLIENT_SEARCH_ROOT"] = root
	out, stderr, code := runCLI(t, env, "create-backup", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "server:      PostgreSQL 15.")
	require.Contains(t, out, "pg_dump:     17.1 at "+filepath.Join(root, "17", "bin", "pg_dump")+" (compatible")

	out, _, code = runCLI(t, env, "create-backup", "--dry-run", "--json")
	require.Equal(t, 0, code)
	var got struct{ Plan dryRunPlan }
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.True(t, got.Plan.Compatible)
	require.Equal(t, "17.1", got.Plan.PgDumpVersion)
	require.Len(t, got.Plan.Found, 3)

	env["PG_CLIENT_SEARCH_ROOT"] = pgclienttest.Layout(t, "14.9")
	out, stderr, code = runCLI(t, env, "create-backup", "--dry-run")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, out, "pg_dump:     NOT USABLE: no pg_dump for PostgreSQL 15")
	require.Contains(t, stderr, "14.9")
}

// Bad input fails before any work, with one line naming what to fix, and the right exit code.
func TestBadInputIsRefusedClearly(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, []byte("x"), 0o600))
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"unknown command", nil, []string{"bogus"}, 2, `unknown command "bogus"`},
		{"unknown flag", nil, []string{"create-backup", "--nope"}, 2, "flag provided but not defined"},
		{"bad type", nil, []string{"create-backup", "--type", "tape"}, 2, "--type must be one of"},
		{"bad port", map[string]string{"PORT": "http"}, []string{"migrate"}, 1, "PORT"},
		{"bad storage", map[string]string{"BACKUP_STORAGE": "ftp://x"}, []string{"migrate"}, 1, "BACKUP_STORAGE"},
		{"bad recipient", map[string]string{"BACKUP_AGE_RECIPIENTS": "age1nope"}, []string{"migrate"}, 1, "BACKUP_AGE_RECIPIENTS"},
		{"bad tz", map[string]string{"TZ_DISPLAY": "Mars/Olympus"}, []string{"migrate"}, 1, "TZ_DISPLAY"},
		{"unreachable catalog", map[string]string{"DATABASE_URL": "postgres://u:pw-secret@127.0.0.1:1/x"}, []string{"list-backups"}, 1, "DATABASE_URL"},
		{"missing pg_dump", map[string]string{"PG_BIN_DIR": t.TempDir()}, []string{"create-backup"}, 1, "pg_dump not found"},
		{"unwritable storage", map[string]string{"BACKUP_STORAGE": "file://" + filepath.Join(notDir, "sub")}, []string{"create-backup"}, 1, "BACKUP_STORAGE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := maps.Clone(env)
			maps.Copy(e, c.env)
			_, stderr, code := runCLI(t, e, c.args...)
			require.Equal(t, c.code, code, stderr)
			require.Contains(t, stderr, c.want)
			require.NotContains(t, stderr, "pw-secret")
		})
	}
}
