package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/demo"
)

func TestMediaBackupRestoredToDirIsByteIdentical(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	seeded, err := demo.SeedMedia(env["MEDIA_ROOT"], 1)
	require.NoError(t, err)
	out, stderr, code := runCLI(t, env, "create-backup", "--type", "media", "--json")
	require.Equal(t, 0, code, stderr)
	var b backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	require.Equal(t, "succeeded", b.Status)
	id := strconv.FormatInt(b.ID, 10)

	target := filepath.Join(t.TempDir(), "restored media")
	out, stderr, code = runCLI(t, env, "restore", id, "--target-dir", target)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "succeeded")
	for _, rel := range seeded {
		want, err := os.ReadFile(filepath.Join(env["MEDIA_ROOT"], rel))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(target, rel))
		require.NoError(t, err, rel)
		require.True(t, bytes.Equal(want, got), rel)
	}

	// Restoring again into the now non-empty directory is refused before anything is queued.
	_, stderr, code = runCLI(t, env, "restore", id, "--target-dir", target)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not empty")
	_, _, code = runCLI(t, env, "restore", id, "--target-dir", target, "--target-db", "x")
	require.Equal(t, 2, code)
}
