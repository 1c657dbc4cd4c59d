package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// backupNow takes a real database backup through the worker and waits for it.
func (b *testBundle) backupNow(t *testing.T, client *river.Client[pgx.Tx]) queries.Backup {
	t.Helper()
	return b.runBackup(t, client, BackupRequest{Kind: "database", Trigger: "manual"})
}

// runBackup enqueues req (again while the previous backup's job still completes) and waits for its success.
func (b *testBundle) runBackup(t *testing.T, client *river.Client[pgx.Tx], req BackupRequest) queries.Backup {
	t.Helper()
	var row queries.Backup
	require.Eventually(t, func() bool { // the previous backup's job may still be completing in River
		var err error
		row, _, err = EnqueueBackup(context.Background(), b.d.Pool, client, b.d.Cfg, req)
		if errors.Is(err, ErrJobStillActive) {
			return false
		}
		require.NoError(t, err)
		return true
	}, 30*time.Second, 50*time.Millisecond)
	done := b.waitFinal(t, row.ID)
	require.Equal(t, "succeeded", done.Status, done.Error)
	return done
}

// verifyNow enqueues one verification and waits for its final row.
func (b *testBundle) verifyNow(t *testing.T, client *river.Client[pgx.Tx], id int64, level string) queries.Verification {
	t.Helper()
	v, err := EnqueueVerification(context.Background(), b.d.Pool, client, VerifyRequest{BackupID: id, Level: level})
	require.NoError(t, err)
	return b.waitVerification(t, v.ID)
}

func (b *testBundle) waitVerification(t *testing.T, id int64) queries.Verification {
	t.Helper()
	var v queries.Verification
	require.Eventually(t, func() bool {
		var err error
		v, err = b.d.Q.VerificationGet(context.Background(), id)
		require.NoError(t, err)
		return v.Status != "queued" && v.Status != "running"
	}, 120*time.Second, 50*time.Millisecond)
	return v
}

func (b *testBundle) databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, b.d.Pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok))
	return ok
}

// A drill of a real backup of the demo clinic database passes with every table matching, records its RTO and
// drops its scratch database; the automatic checksum after the backup passed too.
func TestDrillOfDemoBackupPasses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	bk := b.backupNow(t, client)

	var auto []queries.Verification
	require.Eventually(t, func() bool {
		auto, _ = b.d.Q.VerificationListByBackup(context.Background(), bk.ID)
		return len(auto) == 1 && auto[0].Status == "succeeded"
	}, 60*time.Second, 50*time.Millisecond, "an automatic checksum verification follows every backup")
	require.Equal(t, "checksum", auto[0].Level)

	v := b.verifyNow(t, client, bk.ID, "drill")
	require.Equal(t, "succeeded", v.Status, v.Error)
	require.NotNil(t, v.RtoMs)
	require.Positive(t, *v.RtoMs)
	var res backup.DrillResult
	require.NoError(t, json.Unmarshal(v.Details, &res))
	m, err := backup.ParseManifest(bk.Manifest)
	require.NoError(t, err)
	require.Len(t, res.Tables, len(m.Tables))
	require.Zero(t, res.Mismatches)
	for _, tc := range res.Tables {
		require.True(t, tc.Match, "%s: expected %d, restored %d", tc.Table, tc.Expected, tc.Actual)
		require.GreaterOrEqual(t, tc.Actual, int64(0))
	}
	require.NotNil(t, m.Inventory)
	require.NotNil(t, res.Objects, "the demo clinic's schema objects were compared")
	require.Equal(t, len(m.Inventory.Objects), res.Objects.SchemaObjects)
	require.Positive(t, res.Objects.SchemaObjects)
	require.Empty(t, res.Objects.Differences, "the demo clinic's functions, views, triggers, policies, indexes and constraints all come back")
	require.False(t, b.databaseExists(t, res.Scratch), "the scratch database is dropped after the drill")
}

// A backup whose manifest was written before the inventory was recorded still verifies, and the drill says
// what it did not compare.
func TestDrillOfManifestWithoutInventoryPasses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	bk := b.backupNow(t, client)
	_, err := b.d.Pool.Exec(context.Background(), "UPDATE backups SET manifest = manifest - 'inventory' WHERE id = $1", bk.ID)
	require.NoError(t, err)

	v := b.verifyNow(t, client, bk.ID, "drill")
	require.Equal(t, "succeeded", v.Status, v.Error)
	require.Contains(t, v.Error, "not recorded in this backup, not compared")
	var res backup.DrillResult
	require.NoError(t, json.Unmarshal(v.Details, &res))
	require.Nil(t, res.Objects)
	require.Zero(t, res.Mismatches)
}

// Flipping one byte of the stored artifact fails the checksum, and the archive level then names a
// decryption/integrity problem rather than some pg_restore complaint.
func TestFlippedByteFailsChecksumAndArchive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	bk := b.backupNow(t, client)

	path := filepath.Join(b.dir, bk.StorageKey)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x01
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	v := b.verifyNow(t, client, bk.ID, "checksum")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "SHA-256 mismatch")

	v = b.verifyNow(t, client, bk.ID, "archive")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "decryption failed: the artifact is damaged")
}

// Rows deleted in the scratch database between restore and comparison are caught, and the scratch database
// is still dropped.
func TestDrillDetectsDeletedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var scratch string
	b.d.DrillAfterRestore = func(ctx context.Context, db *dbconn.Settings) error {
		conn, err := db.Connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		scratch = conn.Config().Database
		_, err = conn.Exec(ctx, "TRUNCATE patients_patient CASCADE") // the restore role owns the tables: no superuser needed
		return err
	}
	client := b.startWorker(t)
	bk := b.backupNow(t, client)

	v := b.verifyNow(t, client, bk.ID, "drill")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "differ from the backup after restore")
	var res backup.DrillResult
	require.NoError(t, json.Unmarshal(v.Details, &res))
	var bad []backup.TableCheck
	for _, tc := range res.Tables {
		if !tc.Match {
			bad = append(bad, tc)
		}
	}
	require.NotEmpty(t, bad)
	require.Contains(t, tableNames(bad), "public.patients_patient")
	for _, tc := range bad {
		if tc.Table == "public.patients_patient" {
			require.Positive(t, tc.Expected)
			require.Zero(t, tc.Actual)
		}
	}
	require.NotEmpty(t, scratch)
	require.False(t, b.databaseExists(t, scratch), "the scratch database is dropped after a failed drill")
}

func tableNames(cs []backup.TableCheck) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Table)
	}
	return out
}

// A verification or restore whose worker died (its job is gone) is ended by the reconciler, and an abandoned
// drill's scratch database is dropped.
func TestReconcileEndsAbandonedVerificationsAndRestores(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	bk, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true})
	require.NoError(t, err)
	gone := int64(987654321)
	v, err := b.d.Q.VerificationInsert(ctx, queries.VerificationInsertParams{BackupID: bk.ID, Level: "drill"})
	require.NoError(t, err)
	require.NoError(t, b.d.Q.VerificationSetJob(ctx, queries.VerificationSetJobParams{ID: v.ID, JobID: &gone}))
	_, err = b.d.Q.VerificationStart(ctx, v.ID)
	require.NoError(t, err)
	g := NewGuard(b.d.Cfg, b.d.Q)
	// A restore that created its target and died mid-way: the partial database (the catalog recorded creating
	// it) is dropped. One that replaced an existing database keeps it and says so.
	target := "pis_partial_" + itoa(bk.ID)
	r, err := b.d.Q.RestoreInsert(ctx, queries.RestoreInsertParams{BackupID: bk.ID, TargetKind: "database", Target: "x",
		Details: []byte(`{"database":"` + target + `"}`)})
	require.NoError(t, err)
	require.NoError(t, b.d.Q.RestoreSetJob(ctx, queries.RestoreSetJobParams{ID: r.ID, JobID: &gone}))
	require.NoError(t, g.CreateOwned(ctx, target, "restore"))
	t.Cleanup(func() { testdb.DropDatabase(t, target) })
	replaced := "pis_replaced_" + itoa(bk.ID)
	r2, err := b.d.Q.RestoreInsert(ctx, queries.RestoreInsertParams{BackupID: bk.ID, TargetKind: "database", Target: "y",
		Details: []byte(`{"database":"` + replaced + `","replace":true}`)})
	require.NoError(t, err)
	require.NoError(t, b.d.Q.RestoreSetJob(ctx, queries.RestoreSetJobParams{ID: r2.ID, JobID: &gone}))
	require.NoError(t, g.CreateOwned(ctx, replaced, "restore"))
	t.Cleanup(func() { testdb.DropDatabase(t, replaced) })
	inst, err := g.Installation(ctx)
	require.NoError(t, err)
	scratch := backup.ScratchName(inst, v.ID)
	require.NoError(t, g.CreateOwned(ctx, scratch, "drill"))
	t.Cleanup(func() { testdb.DropDatabase(t, scratch) })

	_, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	v, err = b.d.Q.VerificationGet(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "worker stopped")
	require.False(t, b.databaseExists(t, scratch))
	r, err = b.d.Q.RestoreGet(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", r.Status)
	require.Contains(t, r.Error, "partial database "+target+" it had created was dropped")
	require.False(t, b.databaseExists(t, target))
	r2, err = b.d.Q.RestoreGet(ctx, r2.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", r2.Status)
	require.Contains(t, r2.Error, "partial restore")
	require.True(t, b.databaseExists(t, replaced), "a database the operator had us replace is not dropped")
}

// A database of the same name that pisbackup did not create (someone else's) is never dropped.
func TestReconcileKeepsUnmarkedRestoreTarget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	bk, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true})
	require.NoError(t, err)
	gone := int64(987654321)
	target := "pis_theirs_" + itoa(bk.ID)
	r, err := b.d.Q.RestoreInsert(ctx, queries.RestoreInsertParams{BackupID: bk.ID, TargetKind: "database", Target: "x",
		Details: []byte(`{"database":"` + target + `"}`)})
	require.NoError(t, err)
	require.NoError(t, b.d.Q.RestoreSetJob(ctx, queries.RestoreSetJobParams{ID: r.ID, JobID: &gone}))
	// Somebody else's database, even carrying the comment pisbackup puts on its own: the catalog has no record.
	conn, err := pgx.Connect(ctx, testdb.AdminURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+target)
	require.NoError(t, err)
	t.Cleanup(func() { testdb.DropDatabase(t, target) })
	_, err = conn.Exec(ctx, "COMMENT ON DATABASE "+target+" IS 'created by pisbackup installation x as a restore database; pisbackup drops or replaces it'")
	require.NoError(t, err)
	conn.Close(ctx)

	_, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.True(t, b.databaseExists(t, target))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The global objects stored beside a database backup (what a restore on another server needs for its roles)
// are part of the backup: every level re-reads them against the catalog's SHA-256, so a damaged or deleted
// sidecar fails verification instead of surfacing only when show-globals or --create-roles needs it.
func TestDamagedGlobalsFailVerification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	bk := b.backupNow(t, client)
	m, err := backup.ParseManifest(bk.Manifest)
	require.NoError(t, err)
	require.NotEmpty(t, m.GlobalsKey, "the backup stored its global objects: %s", m.GlobalsError)

	v := b.verifyNow(t, client, bk.ID, "checksum")
	require.Equal(t, "succeeded", v.Status, v.Error)

	path := filepath.Join(b.dir, m.GlobalsKey)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x01
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	v = b.verifyNow(t, client, bk.ID, "checksum")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "the global objects "+m.GlobalsKey)
	require.Contains(t, v.Error, "SHA-256 mismatch")

	require.NoError(t, os.Remove(path))
	v = b.verifyNow(t, client, bk.ID, "archive")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "are missing")
}
