package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// restoreTarget is a database name no other test uses; it is dropped when the test ends.
func (b *testBundle) restoreTarget(t *testing.T) string {
	t.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "pisbackup_restore_test_" + hex.EncodeToString(r[:])
	t.Cleanup(func() { testdb.DropDatabase(t, name) })
	return name
}

func (b *testBundle) waitRestore(t *testing.T, id int64) queries.Restore {
	t.Helper()
	var r queries.Restore
	require.Eventually(t, func() bool {
		var err error
		r, err = b.d.Q.RestoreGet(context.Background(), id)
		require.NoError(t, err)
		return r.Status != "queued" && r.Status != "running"
	}, 120*time.Second, 50*time.Millisecond)
	return r
}

// A restore into a new database yields content identical to the source, table by table; a dry run before it
// lists the archive and creates nothing.
func TestRestoreIntoNewDatabaseMatchesSource(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	bk := b.backupNow(t, client)
	name := b.restoreTarget(t)

	dry, err := EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: name, DryRun: true})
	require.NoError(t, err)
	dry = b.waitRestore(t, dry.ID)
	require.Equal(t, "succeeded", dry.Status, dry.Error)
	var listed restoreResult
	require.NoError(t, json.Unmarshal(dry.Details, &listed))
	require.Contains(t, listed.Listing, "TABLE DATA public patients_patient")
	require.False(t, b.databaseExists(t, name), "a dry run changes nothing")

	r, err := EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: name})
	require.NoError(t, err)
	r = b.waitRestore(t, r.ID)
	require.Equal(t, "succeeded", r.Status, r.Error)
	require.Positive(t, r.ProgressBytes)
	target := b.d.Cfg.RestoreServer().WithDatabase(name) // the restore role owns what it restored
	require.Equal(t, testdb.TableDigests(t, b.d.Cfg.Source), testdb.TableDigests(t, target))
	var restored restoreResult
	require.NoError(t, json.Unmarshal(r.Details, &restored))
	require.NotNil(t, restored.Objects, "the demo clinic's schema objects were compared")
	require.Positive(t, restored.Objects.SchemaObjects)
	require.Empty(t, restored.Objects.Differences)
	require.NotEmpty(t, restored.Tables)
	for _, c := range restored.Tables {
		require.Equal(t, "same", c.Content, "every table's rows were compared with the archive's: %+v", c)
	}

	// The target now exists: restoring again needs its name typed as confirmation, and then replaces it.
	_, err = EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: name})
	require.ErrorIs(t, err, ErrConfirmTarget)
	conn, err := target.Connect(context.Background())
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE TABLE stray (x int)")
	require.NoError(t, err)
	conn.Close(context.Background())
	r, err = EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: name, Confirm: name})
	require.NoError(t, err)
	r = b.waitRestore(t, r.ID)
	require.Equal(t, "succeeded", r.Status, r.Error)
	require.Equal(t, testdb.TableDigests(t, b.d.Cfg.Source), testdb.TableDigests(t, target),
		"a confirmed replace leaves exactly the backup's content (the stray table is gone)")
}

// Restoring into pisbackup's own catalog or into the clinic database is refused whatever is confirmed, and
// so are system and drill databases.
func TestRestoreIntoCatalogOrSourceIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	bk := b.backupNow(t, client)
	before := testdb.TableDigests(t, b.d.Cfg.Source)
	for _, url := range []string{b.catalog, b.source} {
		name := dbName(t, url)
		for _, dry := range []bool{false, true} {
			_, err := EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg,
				RestoreRequest{BackupID: bk.ID, TargetDB: name, Confirm: name, DryRun: dry})
			require.ErrorIs(t, err, backup.ErrProtectedTarget, name)
		}
	}
	for _, name := range []string{"postgres", "template1", "pisbackup_drill_1", "bad-name;drop"} {
		_, err := EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: name, Confirm: name})
		require.Error(t, err, name)
	}
	rows, err := b.d.Q.RestoreListByBackup(context.Background(), bk.ID)
	require.NoError(t, err)
	require.Empty(t, rows, "a refused restore records nothing and queues nothing")
	require.Equal(t, before, testdb.TableDigests(t, b.d.Cfg.Source))

	// The worker checks again: a row forged to point at the source is refused at run time too.
	plan, _ := json.Marshal(restorePlan{Database: dbName(t, b.source), Replace: true})
	row, err := b.d.Q.RestoreInsert(context.Background(), queries.RestoreInsertParams{BackupID: bk.ID, TargetKind: "database", Target: "forged", Details: plan})
	require.NoError(t, err)
	_, err = client.Insert(context.Background(), RestoreArgs{RestoreID: row.ID}, nil)
	require.NoError(t, err)
	row = b.waitRestore(t, row.ID)
	require.Equal(t, "failed", row.Status)
	require.Contains(t, row.Error, "clinic (source) database")
	require.Equal(t, before, testdb.TableDigests(t, b.d.Cfg.Source))
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	return testdb.DatabaseName(t, url)
}

// rescan-storage after the catalog lost its backups rows brings every one back with its original id, key and
// checksum; a second run adds nothing.
func TestRescanStorageRebuildsCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := b.startWorker(t)
	first := b.backupNow(t, client)
	second := b.backupNow(t, client)
	ctx := context.Background()
	_, err := b.d.Pool.Exec(ctx, "TRUNCATE backups CASCADE")
	require.NoError(t, err)

	rep, err := Rescan(ctx, b.d)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Manifests)
	require.ElementsMatch(t, []int64{first.ID, second.ID}, rep.Added)
	require.Empty(t, rep.Skipped)
	for _, want := range []queries.Backup{first, second} {
		got, err := b.d.Q.BackupGet(ctx, want.ID)
		require.NoError(t, err)
		require.Equal(t, want.StorageKey, got.StorageKey)
		require.Equal(t, want.Sha256, got.Sha256)
		require.Equal(t, want.BytesStored, got.BytesStored)
		require.Equal(t, want.Kind, got.Kind)
		require.Equal(t, "succeeded", got.Status)
		m, err := backup.ParseManifest(got.Manifest)
		require.NoError(t, err)
		require.NotEmpty(t, m.Tables)
	}

	rep, err = Rescan(ctx, b.d)
	require.NoError(t, err)
	require.Empty(t, rep.Added)
	require.Equal(t, 2, rep.Present)
	n, err := b.d.Q.BackupCount(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	// New backups after a rescan do not collide with the recovered ids.
	third := b.backupNow(t, client)
	require.Greater(t, third.ID, second.ID)
}

// A restore whose archive holds an entry the target cannot create (the materialized view whose refresh
// fails) keeps the database with every table restored and reports "restored with 1 problems" instead of
// failing and dropping the target.
func TestRestoreWithProblemsKeepsTarget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn, err := b.d.Cfg.Source.Connect(context.Background())
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), `
		CREATE TABLE visits(id int, patient text); INSERT INTO visits VALUES (1,'p1');
		CREATE FUNCTION visit_count(p text) RETURNS bigint LANGUAGE sql STABLE
		  AS 'SELECT count(*) FROM visits WHERE patient=p';
		CREATE MATERIALIZED VIEW patient_stats AS SELECT patient, visit_count(patient) n FROM visits;`)
	require.NoError(t, err)
	conn.Close(context.Background())
	client := b.startWorker(t)
	bk := b.backupNow(t, client)
	name := b.restoreTarget(t)
	r, err := EnqueueRestore(context.Background(), b.d.Pool, client, b.d.Cfg, RestoreRequest{BackupID: bk.ID, TargetDB: name})
	require.NoError(t, err)
	r = b.waitRestore(t, r.ID)
	require.Equal(t, "succeeded", r.Status, r.Error)
	require.Contains(t, r.Error, "restored with 1 problems (0 lose data, 1 objects not created)")
	require.Contains(t, r.Error, "MATERIALIZED VIEW DATA")
	var res restoreResult
	require.NoError(t, json.Unmarshal(r.Details, &res))
	require.Len(t, res.Problems.List, 1)
	// The unpopulated view is that one problem, not a second failure of the comparison.
	require.NotNil(t, res.Objects)
	require.Len(t, res.Objects.Differences, 1, res.Objects.Differences)
	d := res.Objects.Differences[0]
	require.Equal(t, "materialized view public.patient_stats: 1 row in the backup, not populated after restore", d.What)
	require.Equal(t, res.Problems.List[0].String(), d.ExplainedBy)
	require.False(t, d.Fails)
	target := b.d.Cfg.RestoreServer().WithDatabase(name) // the restore role owns what it restored
	src, dst := testdb.TableDigests(t, b.d.Cfg.Source), testdb.TableDigests(t, target)
	require.Equal(t, src, dst, "every table is restored")
}
