package jobs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// testBundle is a real catalog database, a real demo source, file storage and keys, per test.
type testBundle struct {
	d       *Deps
	dir     string
	catalog string
	source  string // the demo source's connection string, for test helpers that take one
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool, url := testdb.Catalog(t)
	src := testdb.Source(t)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": url, "SOURCE_DATABASE_URL": src, "RESTORE_DATABASE_URL": testdb.RestoreURL(t, src)}[k]
	})
	require.NoError(t, err)
	dir := t.TempDir()
	st, err := storage.Open(context.Background(), "file://"+dir, os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	d := &Deps{Pool: pool, Q: queries.New(pool), Cfg: cfg, Store: st, Keys: keys,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Started: time.Now()}
	return &testBundle{d: d, dir: dir, catalog: url, source: src}
}

// startWorker runs a full worker client until the test ends.
func (b *testBundle) startWorker(t *testing.T) *river.Client[pgx.Tx] {
	t.Helper()
	c, err := NewClient(b.d, Worker, "")
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
	return c
}

// insertOnly is a client that enqueues but never works.
func (b *testBundle) insertOnly(t *testing.T) *river.Client[pgx.Tx] {
	t.Helper()
	c, err := NewClient(b.d, InsertOnly, "")
	require.NoError(t, err)
	return c
}

// waitFinal polls a backup row until it leaves queued/running.
func (b *testBundle) waitFinal(t *testing.T, id int64) queries.Backup {
	t.Helper()
	var row queries.Backup
	require.Eventually(t, func() bool {
		var err error
		row, err = b.d.Q.BackupGet(context.Background(), id)
		require.NoError(t, err)
		return row.Status != "queued" && row.Status != "running"
	}, 60*time.Second, 50*time.Millisecond)
	return row
}
