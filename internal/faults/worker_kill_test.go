//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// A worker SIGKILLed mid-dump publishes nothing; after restart the row ends failed (never stays running), the
// temporary object is cleaned up, and the next backup of that kind can start at once.
func TestWorkerKilledMidDump(t *testing.T) {
	w := newWorld(t)
	slow := []string{"PG_BIN_DIR=" + testdb.SlowPGDumpDir(t, "0.05")}
	pool := testdb.Pool(t, w.dsn())
	q := queries.New(pool)
	ctx := context.Background()

	a := w.start(t, slow, "worker")
	out, err := w.run(t, slow, "create-backup", "--no-wait", "--json")
	require.NoError(t, err, out)
	var queued struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(out), &queued))

	require.Eventually(t, func() bool {
		b, err := q.BackupGet(ctx, queued.ID)
		return err == nil && b.Status == "running" && b.ProgressBytes > 0
	}, 60*time.Second, 50*time.Millisecond, "backup never started streaming")
	killed := kill(t, a)
	requireNothingPublished(t, w.storage)

	w.start(t, survivor, "worker")
	var b queries.Backup
	reconciled(t, "backup (worker)", killed, func() bool {
		b, err = q.BackupGet(ctx, queued.ID)
		return err == nil && b.Status != "running" && b.Status != "queued"
	}, "row stayed running after restart")
	require.Equal(t, "failed", b.Status)
	require.Contains(t, b.Error, "no heartbeat")
	requireNothingPublished(t, w.storage)
	require.Eventually(t, func() bool { return countFiles(filepath.Join(w.storage, ".tmp")) == 0 }, 10*time.Second, 100*time.Millisecond,
		"the temporary object must be removed by the next run's cleanup")

	out, err = w.run(t, nil, "create-backup", "--json")
	require.NoError(t, err, out)
	require.True(t, strings.Contains(out, `"status": "succeeded"`), out)
}

func requireNothingPublished(t *testing.T, storage string) {
	t.Helper()
	var published []string
	_ = filepath.Walk(storage, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.Contains(p, "/.tmp/") {
			published = append(published, p)
		}
		return nil
	})
	require.Empty(t, published, "no artifact may be published")
}

func countFiles(dir string) int {
	entries, _ := os.ReadDir(dir)
	return len(entries)
}
