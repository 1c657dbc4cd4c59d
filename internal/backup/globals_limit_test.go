package backup_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// Global objects beyond the bound are refused with that reason in globals_error (not pg_dumpall's "signal:
// broken pipe" once its output is cut off), nothing is stored for them, and the backup itself stays good.
// Sequential on purpose: it lowers the package's bound (parallel tests resume after it).
func TestGlobalsOverTheBoundSayWhy(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	// More output than a pipe holds past the bound, so pg_dumpall is cut off mid-write as with a real cluster
	// over 16 MiB: a role whose comment is 256 KiB (pg_dumpall prints role comments).
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "pisbackup_bigcomment_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, testdb.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE ROLE "+role+" NOLOGIN; COMMENT ON ROLE "+role+" IS '"+strings.Repeat("x", 256<<10)+"'")
	require.NoError(t, err)
	defer func() { _, _ = admin.Exec(ctx, "DROP ROLE IF EXISTS "+role) }()
	defer backup.SetMaxGlobalsBytes(64 << 10)()
	res, err := backup.DumpDatabase(ctx, f.opts)
	require.NoError(t, err)
	require.Empty(t, res.Manifest.GlobalsKey)
	require.Contains(t, res.Manifest.GlobalsError, "more than 65536 bytes of global objects")
	_, err = f.store.Stat(context.Background(), storage.GlobalsKey(res.Key))
	require.Error(t, err, "nothing stored for the refused global objects")
}
