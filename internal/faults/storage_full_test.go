//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// Storage that fills up mid-backup: the row ends failed with "no space", nothing partial is published.
func TestStorageFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("storage-full test needs root to mount a small tmpfs; skipped")
	}
	w := newWorld(t)
	mnt := t.TempDir()
	// 64 KiB holds the probe file but not the demo database's ~100 KiB artifact.
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount tmpfs here (%v: %s); skipped", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, 0) })
	w.storage = mnt
	env := []string{"BACKUP_STORAGE=file://" + mnt}

	out2, err := w.run(t, env, "create-backup", "--json")
	require.Error(t, err, "a backup onto a full disk must not exit 0")
	var got struct {
		ID     int64
		Status string
		Error  string
	}
	require.NoError(t, json.Unmarshal([]byte(out2), &got), out2)
	require.Equal(t, "failed", got.Status)
	require.Contains(t, strings.ToLower(got.Error), "no space")
	requireNothingPublished(t, mnt)
	require.Zero(t, countFiles(mnt+"/.tmp"), "the partial temporary object must be removed")

	q := queries.New(testdb.Pool(t, w.dsn()))
	b, err := q.BackupGet(context.Background(), got.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", b.Status)

	// Staff hear of it: the failure opened a backup_failed alert naming the cause.
	open, err := q.AlertListOpen(context.Background())
	require.NoError(t, err)
	var found bool
	for _, a := range open {
		if a.Rule == "backup_failed" && strings.Contains(strings.ToLower(alert.ParseDetails(a.Details).Message), "no space") {
			found = true
		}
	}
	require.True(t, found, "no open backup_failed alert saying \"no space\": %+v", open)
}
