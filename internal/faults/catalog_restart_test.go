//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// PostgreSQL restarted while a backup runs: the job ends (its dump connection is gone) instead of hanging,
// no row stays running, and the same worker reconnects by itself and completes the next backup.
func TestCatalogRestartMidJob(t *testing.T) {
	// Only the throwaway cluster run.sh made for these tests is ever restarted, never the main one.
	version, cluster := os.Getenv("FAULTS_PG_VERSION"), os.Getenv("FAULTS_PG_CLUSTER")
	if version == "" || cluster == "" {
		t.Skip("no throwaway cluster (run `make faults`); skipped rather than restart a shared server")
	}
	w := newWorld(t)
	slow := []string{"PG_BIN_DIR=" + testdb.SlowPGDumpDir(t, "0.05"), "BACKUP_HEARTBEAT_TIMEOUT=5s"}
	w.start(t, slow, "worker")
	pool := testdb.Pool(t, w.dsn())
	q := queries.New(pool)
	ctx := context.Background()

	out, err := w.run(t, slow, "create-backup", "--no-wait", "--json")
	require.NoError(t, err, out)
	var first struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(out), &first))
	require.Eventually(t, func() bool {
		b, err := q.BackupGet(ctx, first.ID)
		return err == nil && b.Status == "running" && b.ProgressBytes > 0
	}, 60*time.Second, 50*time.Millisecond)

	restart := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart", "-m", "fast")
	restartOut, err := restart.CombinedOutput()
	require.NoError(t, err, string(restartOut))

	var b queries.Backup
	require.Eventually(t, func() bool {
		b, err = q.BackupGet(ctx, first.ID)
		return err == nil && b.Status != "running" && b.Status != "queued"
	}, 90*time.Second, 250*time.Millisecond, "the interrupted backup must not stay running")
	// The row says what really happened, recorded by the worker once the catalog was back: the dump either
	// finished (pg_dump had streamed everything before the restart) and its artifact is recorded, or it failed
	// with pg_dump's own message; never "its job ended as discarded" written by a reconciler over it.
	require.Contains(t, []string{"succeeded", "failed"}, b.Status, b.Error)
	require.NotContains(t, b.Error, "discarded")
	if b.Status == "failed" {
		require.Contains(t, b.Error, "pg_dump")
	} else {
		_, err := os.Stat(filepath.Join(w.storage, b.StorageKey))
		require.NoError(t, err, "the recorded artifact is in storage")
	}

	// The worker process was never restarted: it must have reconnected on its own.
	out, err = w.run(t, []string{"BACKUP_HEARTBEAT_TIMEOUT=5s"}, "create-backup", "--no-wait", "--json")
	require.NoError(t, err, out)
	var second struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(out), &second))
	require.Eventually(t, func() bool {
		b, err = q.BackupGet(ctx, second.ID)
		return err == nil && (b.Status == "succeeded" || b.Status == "failed")
	}, 120*time.Second, 250*time.Millisecond)
	require.Equal(t, "succeeded", b.Status, b.Error)
	require.False(t, strings.Contains(b.Error, "password"))
}
