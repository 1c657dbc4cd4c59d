package mediamigration_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/queries"
)

// TestThroughput2000SmallFiles measures files/s for 2,000 small files at --concurrency 8 against the local
// server, with the real client, signatures and ledger writes. It only runs when PISBACKUP_MEASURE=1 (it is a
// measurement, and the machine is shared).
func TestThroughput2000SmallFiles(t *testing.T) {
	if os.Getenv("PISBACKUP_MEASURE") != "1" {
		t.Skip("set PISBACKUP_MEASURE=1 to measure")
	}
	b := setup(t)
	root := t.TempDir()
	for i := range 2000 {
		p := filepath.Join(root, fmt.Sprintf("bulk/%02d/file %04d.pdf", i%40, i))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		data := make([]byte, 2048)
		_, _ = rand.Read(data)
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	items, err := mediamigration.Plan(root, naming, nil)
	require.NoError(t, err)
	require.Len(t, items, 2000)
	row, err := b.q.MediaMigrationInsert(context.Background(), queries.MediaMigrationInsertParams{})
	require.NoError(t, err)
	start := time.Now()
	out, err := mediamigration.Run(context.Background(), mediamigration.Options{Root: root, Client: b.client, Q: b.q,
		RunID: row.ID, Concurrency: 8}, items)
	require.NoError(t, err)
	el := time.Since(start)
	require.Equal(t, 2000, out.Verified)
	require.Equal(t, 2000, b.srv.UploadCount())
	t.Logf("2000 files, concurrency 8: %s, %.0f files/s", el.Round(time.Millisecond), 2000/el.Seconds())
}
