//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// Every kind of work a killed process held is ended by a surviving worker: kill -9, then a worker that was not
// involved reconciles. The heartbeat timeout is shortened to staleAfter so the tests run in seconds; each test
// logs "RECONCILED <kind>: N s" (kill to reconciled). In production the same path takes the default
// BACKUP_HEARTBEAT_TIMEOUT (2 min) plus at most one reconcile interval (1 min).
// FAULTS_HEARTBEAT_TIMEOUT=2m measures the production default instead (with FAULTS_RECONCILE_LIMIT=5m).
var staleAfter = func() string {
	if v := os.Getenv("FAULTS_HEARTBEAT_TIMEOUT"); v != "" {
		return v
	}
	return "3s"
}()

var survivor = []string{"BACKUP_HEARTBEAT_TIMEOUT=" + staleAfter}

// kill sends SIGKILL to cmd's whole process group (its pg_dump/pg_restore children too) and returns when.
func kill(t *testing.T, cmd *exec.Cmd) time.Time {
	t.Helper()
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	at := time.Now()
	_ = cmd.Wait()
	return at
}

// reconciled waits for cond and logs how long after the kill it came true.
func reconciled(t *testing.T, kind string, killed time.Time, cond func() bool, msg string) time.Duration {
	t.Helper()
	limit := 90 * time.Second
	if v, err := time.ParseDuration(os.Getenv("FAULTS_RECONCILE_LIMIT")); err == nil {
		limit = v // checking the tests against old code: fail sooner
	}
	require.Eventually(t, cond, limit, 100*time.Millisecond, msg)
	d := time.Since(killed)
	t.Logf("RECONCILED %s: %.1f s from kill -9 to reconciled (BACKUP_HEARTBEAT_TIMEOUT=%s)", kind, d.Seconds(), staleAfter)
	return d
}

func jsonID(t *testing.T, out string) int64 {
	t.Helper()
	var v struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v.ID
}

func databaseExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok))
	return ok
}

// goodBackup takes a real database backup through the CLI and returns its id.
func goodBackup(t *testing.T, w *world) int64 {
	t.Helper()
	out, err := w.run(t, nil, "create-backup", "--json")
	require.NoError(t, err, out)
	return jsonID(t, out)
}

// kill -9 mid-drill: the verification ends failed with the reason and its scratch database is dropped.
func TestKillMidDrill(t *testing.T) {
	w := newWorld(t)
	q := queries.New(testdb.Pool(t, w.dsn()))
	ctx := context.Background()
	id := goodBackup(t, w)
	slow := []string{"PG_BIN_DIR=" + testdb.SlowPGRestoreDir(t, "0.2")}
	victim := w.start(t, slow, "verify-backup", strconv.FormatInt(id, 10), "--level", "drill")
	var vid int64
	require.Eventually(t, func() bool {
		return testdb.Pool(t, w.dsn()).QueryRow(ctx, "SELECT id FROM verifications WHERE level = 'drill'").Scan(&vid) == nil
	}, 60*time.Second, 50*time.Millisecond)
	admin := testdb.Pool(t, w.dsn())
	var scratch string
	require.Eventually(t, func() bool {
		v, err := q.VerificationGet(ctx, vid)
		inst, ierr := q.InstallationGet(ctx)
		scratch = backup.ScratchName(inst.ID, vid)
		return err == nil && ierr == nil && v.Status == "running" && databaseExists(t, admin, scratch)
	}, 60*time.Second, 50*time.Millisecond, "the drill never started restoring")
	time.Sleep(500 * time.Millisecond)
	killed := kill(t, victim)

	w.start(t, survivor, "worker")
	var v queries.Verification
	reconciled(t, "drill (verify_backup)", killed, func() bool {
		var err error
		v, err = q.VerificationGet(ctx, vid)
		return err == nil && v.Status != "running" && !databaseExists(t, admin, scratch)
	}, "the drill stayed running or its scratch database was kept")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "worker stopped: no heartbeat from")
}

// A CLI restore killed mid-way: the row ends failed and the partial database it created is dropped.
func TestKillMidRestoreCLI(t *testing.T) {
	w := newWorld(t)
	pool := testdb.Pool(t, w.dsn())
	q := queries.New(pool)
	ctx := context.Background()
	id := goodBackup(t, w)
	target := "pis_restore_killed"
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+target+" WITH (FORCE)") })
	slow := []string{"PG_BIN_DIR=" + testdb.SlowPGRestoreDir(t, "0.2")}
	cli := w.start(t, slow, "restore", strconv.FormatInt(id, 10), "--target-db", target)
	var rid int64
	require.Eventually(t, func() bool {
		err := pool.QueryRow(ctx, "SELECT id FROM restores WHERE backup_id = $1 AND status = 'running'", id).Scan(&rid)
		return err == nil && databaseExists(t, pool, target)
	}, 60*time.Second, 50*time.Millisecond, "the restore never started")
	time.Sleep(500 * time.Millisecond)
	killed := kill(t, cli)

	w.start(t, survivor, "worker")
	var r queries.Restore
	reconciled(t, "restore (CLI, private queue)", killed, func() bool {
		var err error
		r, err = q.RestoreGet(ctx, rid)
		return err == nil && r.Status != "running" && !databaseExists(t, pool, target)
	}, "the restore stayed running or its partial target was kept")
	require.Equal(t, "failed", r.Status)
	require.Contains(t, r.Error, "worker stopped: no heartbeat from")
	require.Contains(t, r.Error, "partial database "+target+" it had created was dropped")
}

// kill -9 of `pisbackup recover` mid-comparison (it runs in its own process, no River job, holding the lease
// recovery_<id>): the recovery ends failed naming the dead holder, and its scratch database is dropped.
func TestKillMidRecovery(t *testing.T) {
	w := newWorld(t)
	pool := testdb.Pool(t, w.dsn())
	q := queries.New(pool)
	ctx := context.Background()
	id := goodBackup(t, w)
	slow := []string{"PG_BIN_DIR=" + testdb.SlowPGRestoreDir(t, "0.5")}
	cli := w.start(t, slow, "recover", "--backup", strconv.FormatInt(id, 10), "--table", "patients_patient", "--key", "id=1",
		"--with-related", "--dry-run")
	var rid int64
	var scratch string
	require.Eventually(t, func() bool {
		if pool.QueryRow(ctx, "SELECT id FROM recoveries WHERE status = 'running'").Scan(&rid) != nil {
			return false
		}
		inst, err := q.InstallationGet(ctx)
		scratch = backup.RecoveryScratchName(inst.ID, rid)
		var leased bool
		_ = pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM job_leases WHERE queue = $1)", "recovery_"+strconv.FormatInt(rid, 10)).Scan(&leased)
		return err == nil && leased && databaseExists(t, pool, scratch)
	}, 60*time.Second, 50*time.Millisecond, "the recovery never started restoring")
	time.Sleep(500 * time.Millisecond)
	killed := kill(t, cli)

	w.start(t, survivor, "worker")
	var r queries.Recovery
	reconciled(t, "record recovery (CLI, lease)", killed, func() bool {
		var err error
		r, err = q.RecoveryGet(ctx, rid)
		return err == nil && r.Status != "running" && !databaseExists(t, pool, scratch)
	}, "the recovery stayed running or its scratch database was kept")
	require.Equal(t, "failed", r.Status)
	require.NotNil(t, r.Error)
	require.Contains(t, *r.Error, "the process running it stopped: no heartbeat from")
	require.Contains(t, *r.Error, "scratch database "+scratch+" dropped")
}

// kill -9 mid-media-migration (Cloudinary never answers the upload): the run ends failed and a new run is
// accepted instead of 409.
func TestKillMidMediaMigration(t *testing.T) {
	w := newWorld(t)
	q := queries.New(testdb.Pool(t, w.dsn()))
	ctx := context.Background()
	media := filepath.Join(t.TempDir(), "media")
	_, err := demo.SeedMedia(media, 1)
	require.NoError(t, err)
	// The fake Cloudinary answers everything but uploads, which hang until the test ends.
	cld := cloudinarytest.New(t)
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/upload") {
			cld.Config.Handler.ServeHTTP(w, r)
			return
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	env := []string{"MEDIA_ROOT=" + media, "CLOUDINARY_URL=" + strings.Replace(cld.CloudinaryURL(), cld.URL, srv.URL, 1)}
	cli := w.start(t, env, "migrate-to-cloudinary", "--json", "--mapping-out", filepath.Join(t.TempDir(), "map"))
	var m queries.MediaMigration
	require.Eventually(t, func() bool {
		rows, err := q.MediaMigrationList(ctx, 1)
		if err != nil || len(rows) == 0 {
			return false
		}
		m = rows[0]
		return m.Status == "running" && m.TotalFiles > 0
	}, 60*time.Second, 50*time.Millisecond, "the migration never started")
	time.Sleep(500 * time.Millisecond)
	killed := kill(t, cli)

	w.start(t, append(survivor, env...), "worker")
	reconciled(t, "media migration (CLI, private queue)", killed, func() bool {
		m, err = q.MediaMigrationGet(ctx, m.ID)
		return err == nil && m.Status != "running"
	}, "the migration stayed running")
	require.Equal(t, "failed", m.Status)
	require.Contains(t, m.Error, "worker stopped: no heartbeat from")
	out, err := w.run(t, env, "migrate-to-cloudinary", "--dry-run", "--json", "--mapping-out", filepath.Join(t.TempDir(), "map"))
	require.NoError(t, err, "a new run must be accepted, not refused as already running: %s", out)
}

// kill -9 mid-retention (blocked on a row lock): the pass is ended and queued again, and the schedule ends up
// pruned to its policy (keep_last 2 of 5), not silently unpruned.
func TestKillMidRetention(t *testing.T) {
	w := newWorld(t)
	pool := testdb.Pool(t, w.dsn())
	ctx := context.Background()
	var sid int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO schedules (name, kind, cadence, active, keep_last, keep_daily, keep_weekly, keep_monthly)
		VALUES ('nightly', 'database', 'manual', true, 2, 0, 0, 0) RETURNING id`).Scan(&sid))
	_, err := pool.Exec(ctx, `INSERT INTO backups (kind, status, trigger, schedule_id, queued_at, started_at, finished_at, storage_key, sha256, bytes_stored)
		SELECT 'database', 'succeeded', 'schedule', $1, now() - i * interval '1 day', now() - i * interval '1 day',
		       now() - i * interval '1 day', 'database/old-' || i || '.dump.zst.age', 'x', 1
		FROM generate_series(1, 5) AS i`, sid)
	require.NoError(t, err)
	// Hold every one of its rows: the pass blocks at its first prune.
	lock, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = lock.Exec(ctx, "SELECT 1 FROM backups WHERE schedule_id = $1 FOR UPDATE", sid)
	require.NoError(t, err)
	victim := w.start(t, nil, "worker") // retention_daily runs at start
	waitBlocked(t, pool, "UPDATE backups SET pruned_at")
	killed := kill(t, victim)
	require.NoError(t, lock.Rollback(ctx))

	w.start(t, survivor, "worker")
	reconciled(t, "retention", killed, func() bool {
		var pruned int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM backups WHERE schedule_id = $1 AND pruned_at IS NOT NULL", sid).Scan(&pruned)
		return pruned == 3
	}, "keep_last 2 of 5: three must be pruned")
}

// kill -9 of a worker whose scheduler tick is blocked on a row lock: the slot is not lost (claim and enqueue
// are one transaction, so the dead claim never commits), the dead tick is ended, and the scheduled backup runs.
func TestKillMidScheduleTick(t *testing.T) {
	w := newWorld(t)
	pool := testdb.Pool(t, w.dsn())
	ctx := context.Background()
	var sid int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO schedules (name, kind, cadence, active, next_run_at)
		VALUES ('nightly', 'database', 'daily', true, now() - interval '1 minute') RETURNING id`).Scan(&sid))
	lock, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = lock.Exec(ctx, "SELECT 1 FROM schedules WHERE id = $1 FOR UPDATE", sid)
	require.NoError(t, err)
	victim := w.start(t, nil, "worker") // schedule_tick runs at start
	waitBlocked(t, pool, "UPDATE schedules SET last_run_at")
	killed := kill(t, victim)
	require.NoError(t, lock.Commit(ctx)) // the dead worker's claim may now proceed, but it must not commit alone

	w.start(t, survivor, "worker")
	reconciled(t, "schedule_tick", killed, func() bool {
		var n int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM backups WHERE schedule_id = $1", sid).Scan(&n)
		return n == 1
	}, "the due slot's backup never ran: the slot was lost or ticks stayed blocked")
}

// `pisbackup create-backup & sleep 0.2; kill -9 $!`: the row does not stay queued on the dead process's
// private queue; later backups do not join it.
func TestKillCLIBackupRightAfterStart(t *testing.T) {
	w := newWorld(t)
	pool := testdb.Pool(t, w.dsn())
	q := queries.New(pool)
	ctx := context.Background()
	slow := []string{"PG_BIN_DIR=" + testdb.SlowPGDumpDir(t, "0.05")}
	cli := w.start(t, slow, "create-backup", "--type", "database")
	var id int64
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, "SELECT id FROM backups ORDER BY id DESC LIMIT 1").Scan(&id) == nil
	}, 30*time.Second, 10*time.Millisecond)
	killed := kill(t, cli)

	w.start(t, survivor, "worker")
	var b queries.Backup
	reconciled(t, "backup (CLI, private queue)", killed, func() bool {
		var err error
		b, err = q.BackupGet(ctx, id)
		return err == nil && b.Status != "queued" && b.Status != "running"
	}, "the CLI's backup stayed queued or running")
	require.Equal(t, "failed", b.Status)
	require.True(t, strings.Contains(b.Error, "stopped before running it") || strings.Contains(b.Error, "no heartbeat from"), b.Error)
	out, err := w.run(t, nil, "create-backup", "--json")
	require.NoError(t, err, out)
	require.NotEqual(t, id, jsonID(t, out), "a new backup must not join the dead one")
}

// waitBlocked waits until some session of this catalog waits on a lock while running a statement starting
// with prefix.
func waitBlocked(t *testing.T, pool *pgxpool.Pool, prefix string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, "%"+prefix+"%").Scan(&n)
		return err == nil && n > 0
	}, 60*time.Second, 50*time.Millisecond, "nothing blocked on %q", prefix)
}

var _ = pgx.ErrNoRows
