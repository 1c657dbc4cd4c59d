package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// cliBackup takes a real backup through the CLI and returns it.
func cliBackup(t *testing.T, env map[string]string) backupJSON {
	t.Helper()
	out, stderr, code := runCLI(t, env, "create-backup", "--json")
	require.Equal(t, 0, code, stderr)
	var b backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	return b
}

// The runbook's CLI path: verify (drill), dry-run, refused targets, restore into a new database, rescan.
func TestVerifyRestoreRescanCLI(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	b := cliBackup(t, env)
	id := strconv.FormatInt(b.ID, 10)

	out, stderr, code := runCLI(t, env, "verify-backup", "--latest", "--level", "drill", "--json")
	require.Equal(t, 0, code, stderr+out)
	var v queries.Verification
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, b.ID, v.BackupID)
	out, stderr, code = runCLI(t, env, "verify-backup", id, "--level", "drill")
	require.Equal(t, 0, code, stderr+out)
	require.Regexp(t, `\n  [1-9]\d* schema objects, \d+ materialized views, \d+ large objects compared: 0 differ\n`, out)
	out, stderr, code = runCLI(t, env, "verify-backup", id, "--level", "archive")
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "archive): succeeded")

	_, stderr, code = runCLI(t, env, "verify-backup", "--level", "drill")
	require.Equal(t, 2, code, stderr)

	for _, url := range []string{env["DATABASE_URL"], env["SOURCE_DATABASE_URL"]} {
		_, stderr, code = runCLI(t, env, "restore", id, "--target-db", testdb.DatabaseName(t, url), "--yes")
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "refused")
	}

	target := fmt.Sprintf("pisbackup_cli_restore_%d", time.Now().UnixNano())
	admin := dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase("postgres")
	t.Cleanup(func() { testdb.DropDatabase(t, target) })
	out, stderr, code = runCLI(t, env, "restore", id, "--target-db", target, "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "TABLE DATA public patients_patient")
	require.Contains(t, out, "nothing was changed")
	exists, err := backup.DatabaseExists(context.Background(), admin, target)
	require.NoError(t, err)
	require.False(t, exists)

	out, stderr, code = runCLI(t, env, "restore", id, "--target-db", target)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "succeeded")
	restored := dbconn.MustParse(env["RESTORE_DATABASE_URL"]).WithDatabase(target)
	require.Equal(t, testdb.TableDigests(t, dbconn.MustParse(env["SOURCE_DATABASE_URL"])), testdb.TableDigests(t, restored))
	// Existing now: without --yes and without typing the name (stdin is empty) nothing happens.
	_, stderr, code = runCLI(t, env, "restore", id, "--target-db", target)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "left untouched")

	pool := testdb.Pool(t, env["DATABASE_URL"])
	_, err = pool.Exec(context.Background(), "TRUNCATE backups CASCADE")
	require.NoError(t, err)
	out, stderr, code = runCLI(t, env, "rescan-storage")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "1 backups added (0 NOT good)")
	out, _, code = runCLI(t, env, "rescan-storage")
	require.Equal(t, 0, code)
	require.Contains(t, out, "0 backups added (0 NOT good), 1 already in the catalog")
	out, _, _ = runCLI(t, env, "list-backups", "--json")
	require.Contains(t, out, b.SHA256)
}

// docs/disaster-recovery.md's stock-tools recipe, verbatim, with the real age and zstd programs.
func TestRunbookStockToolsRecipe(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"age", "zstd", "pg_restore"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is needed by the runbook (apt-get install age zstd postgresql-client)", tool)
	}
	env := cliEnv(t)
	b := cliBackup(t, env)
	target := testdb.Empty(t)
	file := filepath.Join(strings.TrimPrefix(env["BACKUP_STORAGE"], "file://"), b.StorageKey)
	recipe := fmt.Sprintf("set -o pipefail; age -d -i %s %s | zstd -d | pg_restore --no-owner -d %s",
		shellQuote(env["BACKUP_AGE_IDENTITY_FILE"]), shellQuote(file), shellQuote(target))
	out, err := exec.Command("bash", "-c", recipe).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, testdb.TableDigests(t, dbconn.MustParse(env["SOURCE_DATABASE_URL"])), testdb.TableDigests(t, dbconn.MustParse(target)))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
