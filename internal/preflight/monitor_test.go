package preflight_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// Latest never waits; Get waits for the first run; a fresh report is reused, not re-checked.
func TestMonitorAnswersWithoutWaitingAndReuses(t *testing.T) {
	t.Parallel()
	_, catalog := testdb.Catalog(t)
	src := testdb.Source(t)
	vars := map[string]string{"DATABASE_URL": catalog, "SOURCE_DATABASE_URL": src, "RESTORE_DATABASE_URL": testdb.RestoreURL(t, src),
		"BACKUP_STORAGE": "file://" + t.TempDir()}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	m := preflight.NewMonitor(preflight.Env{Cfg: cfg, DevIdentity: t.TempDir() + "/none.txt"}, time.Hour)
	start := time.Now()
	_, ok := m.Latest()
	require.False(t, ok, "the first call returns at once, before any check answered")
	require.Less(t, time.Since(start), 100*time.Millisecond)
	r, err := m.Get(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, r.Checks)
	again, ok := m.Latest()
	require.True(t, ok)
	require.Equal(t, r.CheckedAt, again.CheckedAt, "a fresh report is reused")
	// No recipient and no identity: the one failure says what to set.
	require.Equal(t, "age", r.Failed()[0].Name, "%+v", r.Failed())
	require.Contains(t, r.Failed()[0].Fix, "BACKUP_AGE_RECIPIENTS")
}
