package backup_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// drillFixture is one real backup of the demo clinic database and a drill of it.
func drillFixture(t *testing.T) (backup.DrillOptions, *dbconn.Settings) {
	t.Helper()
	return drillOf(t, testdb.Source(t))
}

// drillOf backs up the database at src and returns a drill of that backup.
func drillOf(t *testing.T, src string) (backup.DrillOptions, *dbconn.Settings) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	pgRestore, err := exec.LookPath("pg_restore")
	require.NoError(t, err)
	res, err := backup.DumpDatabase(ctx, backup.DumpOptions{BackupID: 1, Trigger: "cli", Source: dbconn.MustParse(src), Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st, Keys: keys})
	require.NoError(t, err)
	admin := dbconn.MustParse(testdb.RestoreURL(t, src)).WithDatabase("postgres")
	return backup.DrillOptions{
		Artifact:  backup.Artifact{Store: st, Key: res.Key, Encrypted: true, Identities: keys.Identities},
		PGRestore: pgRestore, Guard: newGuard(t, admin, src), ID: time.Now().UnixNano(), Expected: res.Manifest.Tables, Sequences: res.Manifest.Sequences, Inventory: res.Manifest.Inventory, Roles: res.Manifest.Roles, Tablespaces: res.Manifest.Tablespaces, Properties: res.Manifest.Properties, DumpSettings: res.Manifest.DumpSettings,
	}, admin
}

// newGuard is a Guard with its own catalog, the restore role reached through admin and src as the clinic
// database, as jobs.NewGuard builds it in production.
func newGuard(t *testing.T, admin *dbconn.Settings, src string) *backup.Guard {
	t.Helper()
	pool, catalog := testdb.Catalog(t)
	g := &backup.Guard{Admin: admin, AdminVar: "RESTORE_DATABASE_URL", Q: queries.New(pool)}
	var err error
	g.Catalog, err = dbconn.Parse(catalog)
	require.NoError(t, err)
	g.Source, err = dbconn.Parse(src)
	require.NoError(t, err)
	return g
}

// A drill cancelled mid-way (the worker is stopped or an operator cancels) still drops its scratch database.
func TestDrillDropsScratchWhenCancelled(t *testing.T) {
	t.Parallel()
	o, admin := drillFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	var scratchSeen bool
	o.AfterRestore = func(hctx context.Context, _ *dbconn.Settings) error {
		var err error
		inst, err := o.Guard.Installation(hctx)
		if err != nil {
			return err
		}
		scratchSeen, err = backup.DatabaseExists(hctx, admin, backup.ScratchName(inst, o.ID))
		cancel()
		return err
	}
	res, err := backup.Drill(ctx, o)
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, scratchSeen, "the scratch database existed during the drill")
	exists, err := backup.DatabaseExists(context.Background(), admin, res.Scratch)
	require.NoError(t, err)
	require.False(t, exists, "a cancelled drill still drops its scratch database")
}

// A damaged artifact fails the drill with an integrity error, not pg_restore's view of a short input, and
// leaves no scratch database.
func TestDrillOfDamagedArtifactReportsIntegrity(t *testing.T) {
	t.Parallel()
	o, admin := drillFixture(t)
	dir := t.TempDir()
	st, err := storage.Open(context.Background(), "file://"+dir, os.Getenv)
	require.NoError(t, err)
	r, err := o.Artifact.Store.Open(context.Background(), o.Artifact.Key)
	require.NoError(t, err)
	w, err := st.Create(context.Background(), o.Artifact.Key)
	require.NoError(t, err)
	buf, err := io.ReadAll(r)
	require.NoError(t, err)
	r.Close()
	buf[len(buf)*3/4] ^= 0xff
	_, err = w.Write(buf)
	require.NoError(t, err)
	require.NoError(t, w.Commit())
	o.Artifact.Store = st

	res, err := backup.Drill(context.Background(), o)
	require.ErrorContains(t, err, "decryption failed: the artifact is damaged")
	var ie *backup.IntegrityError
	require.ErrorAs(t, err, &ie)
	exists, err := backup.DatabaseExists(context.Background(), admin, res.Scratch)
	require.NoError(t, err)
	require.False(t, exists)
}

// The drill's RTO next to a raw pg_restore of the same dump (decrypted to a plain file first, untimed) into a
// new database, measured in the same run; `go test -v` prints both. Both must restore the same content.
func TestDrillTimeNextToRawRestore(t *testing.T) {
	t.Parallel()
	o, _ := drillFixture(t)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err)

	plain, err := o.Artifact.Open(context.Background())
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "raw.dump")
	f, err := os.Create(file)
	require.NoError(t, err)
	_, err = io.Copy(f, plain)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	plain.Close()
	target := testdb.Empty(t)
	start := time.Now()
	out, err := exec.Command(o.PGRestore, "--no-owner", "--no-acl", "--exit-on-error", "-d", target, file).CombinedOutput()
	raw := time.Since(start)
	require.NoError(t, err, string(out))
	t.Logf("drill RTO (decrypt+decompress+pg_restore streamed): %s; raw pg_restore of the plain dump file: %s", res.RTO.Round(time.Millisecond), raw.Round(time.Millisecond))
	restored := testdb.TableDigests(t, dbconn.MustParse(target))
	for _, tc := range res.Tables {
		require.Contains(t, restored, tc.Table)
		require.True(t, strings.HasPrefix(restored[tc.Table], itoa(tc.Actual)+":"), tc.Table)
	}
}
