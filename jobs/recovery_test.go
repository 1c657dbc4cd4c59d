package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// scheduledBackup runs the schedule's backup through the worker (as the scheduler does) and waits for it.
func (b *testBundle) scheduledBackup(t *testing.T, client *river.Client[pgx.Tx], s queries.Schedule) queries.Backup {
	t.Helper()
	return b.runBackup(t, client, BackupRequest{Kind: "database", Trigger: "schedule", ScheduleID: &s.ID})
}

// flipByte damages one byte in the middle of a stored object.
func (b *testBundle) flipByte(t *testing.T, key string) {
	t.Helper()
	path := filepath.Join(b.dir, key)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0xff
	require.NoError(t, os.WriteFile(path, raw, 0o600))
}

// waitVerificationsOf waits until every verification of backup id has ended (the automatic checksum included).
func (b *testBundle) waitVerificationsOf(t *testing.T, id int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		vs, err := b.d.Q.VerificationListByBackup(context.Background(), id)
		require.NoError(t, err)
		for _, v := range vs {
			if v.Status == "queued" || v.Status == "running" {
				return false
			}
		}
		return len(vs) > 0
	}, 60*time.Second, 50*time.Millisecond)
}

// waitOpen waits for the open alert (rule, subject): hooks run just after the row they follow is final.
func (b *testBundle) waitOpen(t *testing.T, rule, subject string) queries.Alert {
	t.Helper()
	var a queries.Alert
	require.Eventually(t, func() bool {
		var err error
		a, err = b.d.Q.AlertGetOpen(context.Background(), queries.AlertGetOpenParams{Rule: rule, Subject: subject})
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "alert %s %s never opened", rule, subject)
	return a
}

// waitClosed waits until (rule, subject) has no open alert.
func (b *testBundle) waitClosed(t *testing.T, rule, subject string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := b.d.Q.AlertGetOpen(context.Background(), queries.AlertGetOpenParams{Rule: rule, Subject: subject})
		return errors.Is(err, pgx.ErrNoRows)
	}, 10*time.Second, 20*time.Millisecond, "alert %s %s stayed open", rule, subject)
}

// Issue 16, first input: keep_last 2; three runs; #3's artifact has a byte flipped and fails checksum; a fourth
// run. Retention used to prune #2 (valid) and keep #3 (known corrupt). Now the corrupt backup is not good: it
// counts toward nothing, is not newest good, and its alert stays open though every newer checksum passes.
func TestCorruptBackupIsNotGoodAndNeverPushesOutAGoodOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := saveSchedule(t, b.d, schedule.Input{Name: "keep two", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}, Policy: schedule.Policy{KeepLast: 2}})
	b.d.AfterBackup = append(b.d.AfterBackup, AlertOnBackup(b.d))
	client := b.startWorker(t)

	var runs []queries.Backup
	for range 3 {
		runs = append(runs, b.scheduledBackup(t, client, s))
		b.waitVerificationsOf(t, runs[len(runs)-1].ID)
	}
	corrupt := runs[2]
	b.flipByte(t, corrupt.StorageKey)
	v := b.verifyNow(t, client, corrupt.ID, "checksum")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "SHA-256 mismatch")
	got, err := b.d.Q.BackupGet(ctx, corrupt.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.VerifyState, "the list, the page and the API show it is not good")
	require.Equal(t, "succeeded", got.Status, "the run itself succeeded; its artifact is what is bad")

	runs = append(runs, b.scheduledBackup(t, client, s))
	b.waitVerificationsOf(t, runs[3].ID) // its automatic checksum passes: the newest checksum overall is good
	_, err = ApplyRetention(ctx, b.d, s.ID)
	require.NoError(t, err)

	state := map[int64]bool{} // pruned?
	for _, r := range runs {
		row, err := b.d.Q.BackupGet(ctx, r.ID)
		require.NoError(t, err)
		state[r.ID] = row.PrunedAt != nil
	}
	require.Equal(t, map[int64]bool{runs[0].ID: true, runs[1].ID: false, runs[2].ID: false, runs[3].ID: false}, state,
		"keep_last 2 keeps the two newest GOOD backups (#4, #2); the corrupt #3 is neither counted nor pruned by policy")

	st, err := recovery.Evaluate(ctx, recovery.Inputs{Q: b.d.Q, Now: time.Now()})
	require.NoError(t, err)
	require.Equal(t, runs[3].ID, st.Kinds["database"].NewestGood.ID)
	require.Equal(t, []recovery.FailedVerification{{BackupID: corrupt.ID, VerificationID: v.ID, Level: "checksum",
		Error: st.Kinds["database"].FailedVerifications[0].Error}}, st.Kinds["database"].FailedVerifications)

	// The alert opened when the checksum failed and is still open after the newer backup's checksum passed and
	// after the periodic evaluation.
	_, _, err = EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	a, err := b.d.Q.AlertGetOpen(ctx, queries.AlertGetOpenParams{Rule: alert.RuleVerifyFailed, Subject: "backup:" + itoa(corrupt.ID)})
	require.NoError(t, err, "the corrupt backup's alert stays open")
	require.Equal(t, "/backups/"+itoa(corrupt.ID), alert.LinkOf(a.Subject, a.Details))

	// Deleted (its artifact pruned): the alert clears.
	_, err = b.d.Q.BackupMarkPruned(ctx, corrupt.ID)
	require.NoError(t, err)
	_, _, err = EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	_, err = b.d.Q.AlertGetOpen(ctx, queries.AlertGetOpenParams{Rule: alert.RuleVerifyFailed, Subject: "backup:" + itoa(corrupt.ID)})
	require.ErrorIs(t, err, pgx.ErrNoRows)
}

// A backup re-verified good after a failure (the cause was temporary) is good again and its alert resolves.
func TestReverifiedGoodClearsTheVerificationAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.startWorker(t)
	bk := b.backupNow(t, client)
	b.waitVerificationsOf(t, bk.ID)
	path := filepath.Join(b.dir, storage.ManifestKey(bk.StorageKey))
	saved, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	v := b.verifyNow(t, client, bk.ID, "checksum")
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Error, "manifest", "a deleted manifest fails checksum")
	b.waitOpen(t, alert.RuleVerifyFailed, "backup:"+itoa(bk.ID)) // the moment the verification failed
	for _, level := range []string{"archive", "drill"} {
		v := b.verifyNow(t, client, bk.ID, level)
		require.Equal(t, "failed", v.Status, level)
		require.Contains(t, v.Error, "manifest", "a deleted manifest fails %s too", level)
	}

	require.NoError(t, os.WriteFile(path, saved, 0o600))
	for _, level := range []string{"checksum", "archive"} {
		require.Equal(t, "succeeded", b.verifyNow(t, client, bk.ID, level).Status)
	}
	got, err := b.d.Q.BackupGet(ctx, bk.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.VerifyState, "the drill's newest result still failed")
	require.Equal(t, "succeeded", b.verifyNow(t, client, bk.ID, "drill").Status)
	got, err = b.d.Q.BackupGet(ctx, bk.ID)
	require.NoError(t, err)
	require.Equal(t, "proven", got.VerifyState)
	b.waitClosed(t, alert.RuleVerifyFailed, "backup:"+itoa(bk.ID)) // re-verified good: resolved
}

// A later good backup of the same kind clears a backup-failure alert whatever started either: a scheduled
// failure is cleared by "Back up now" (the issue: two good manual backups left the schedule's alert open).
func TestManualSuccessClearsScheduledFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := saveSchedule(t, b.d, schedule.Input{Name: "nightly", Kind: "database", Active: true,
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "02:00"}, Policy: schedule.Policy{KeepLast: 7}})
	b.d.AfterBackup = append(b.d.AfterBackup, AlertOnBackup(b.d))
	client := b.startWorker(t)
	good := b.d.Cfg.Source
	b.d.Cfg.Source = dbconn.MustParse("postgres://clinic:pw@127.0.0.1:1/pis?sslmode=disable")
	row, _, err := EnqueueBackup(ctx, b.d.Pool, client, b.d.Cfg, BackupRequest{Kind: "database", Trigger: "schedule", ScheduleID: &s.ID})
	require.NoError(t, err)
	require.Equal(t, "failed", b.waitFinal(t, row.ID).Status)
	a := b.waitOpen(t, alert.RuleBackupFailed, "kind:database")
	require.Equal(t, "/backups/"+itoa(row.ID), alert.LinkOf(a.Subject, a.Details), "the alert links to the failed backup")

	b.d.Cfg.Source = good
	b.backupNow(t, client) // Trigger "manual": Back up now
	b.waitClosed(t, alert.RuleBackupFailed, "kind:database")
	_, _, err = EvaluateAlerts(ctx, b.d, client, true)
	require.NoError(t, err)
	_, err = b.d.Q.AlertGetOpen(ctx, queries.AlertGetOpenParams{Rule: alert.RuleBackupFailed, Subject: "kind:database"})
	require.ErrorIs(t, err, pgx.ErrNoRows, "and the periodic evaluation does not reopen it")
}

// Issue 13 §2: an uploaded backup is not the clinic's recovery point. A manifest claiming finished_at 2099 is
// dated by its upload instead, its table counts are shown as claimed, and even drilled it counts for nothing:
// not newest good, not proven, not what a drill schedule drills.
func TestUploadNeverCountsAndTrustsNothingItClaims(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.startWorker(t)
	orig := b.backupNow(t, client)
	b.waitVerificationsOf(t, orig.ID)
	art, err := os.ReadFile(filepath.Join(b.dir, orig.StorageKey))
	require.NoError(t, err)
	m, err := backup.GetManifest(ctx, b.d.Store, orig.StorageKey)
	require.NoError(t, err)
	m.FinishedAt = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	m.StartedAt = m.FinishedAt.Add(-time.Minute)
	// The original is pruned: the upload is the only copy left.
	_, err = b.d.Q.BackupMarkPruned(ctx, orig.ID)
	require.NoError(t, err)

	before := time.Now()
	up, err := b.upload(t, "x.dump.zst.age", art, m, 1<<30)
	require.NoError(t, err)
	require.Equal(t, "upload", up.Origin)
	require.WithinDuration(t, before, *up.FinishedAt, time.Minute, "times are the upload's, not the file's 2099")
	require.WithinDuration(t, before, up.QueuedAt, time.Minute)
	require.Contains(t, strings.Join(up.Warnings, "\n"), "claims the backup finished at 2099-01-01")
	um, err := backup.ParseManifest(up.Manifest)
	require.NoError(t, err)
	require.Equal(t, backup.TablesClaimed, um.TablesSource, "counts from an uploaded manifest are its claim")
	b.waitVerificationsOf(t, up.ID)
	require.Equal(t, "succeeded", b.verifyNow(t, client, up.ID, "drill").Status, "an upload can be verified by hand")

	st, err := recovery.Evaluate(ctx, recovery.Inputs{Q: b.d.Q, Now: time.Now()})
	require.NoError(t, err)
	require.Nil(t, st.Kinds["database"].NewestGood, "an upload is never newest good")
	require.Nil(t, st.Kinds["database"].NewestProven, "nor proven, though drilled")
	require.True(t, st.Has(recovery.RuleBackupMissing))
	require.Equal(t, recovery.StatusCritical, st.Status)
	_, err = b.d.Q.BackupLatestGood(ctx, "database")
	require.ErrorIs(t, err, pgx.ErrNoRows, "a drill schedule's pick (BackupLatestGood) never returns an upload")
}

// rescan-storage hashes what it adds (a flipped byte is added as not good, with a failed checksum) and lists
// an artifact whose manifest is gone instead of passing over it in silence.
func TestRescanHashesAndListsSkips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.startWorker(t)
	good := b.backupNow(t, client)
	bad := b.backupNow(t, client)
	orphan := b.backupNow(t, client)
	for _, id := range []int64{good.ID, bad.ID, orphan.ID} {
		b.waitVerificationsOf(t, id)
	}
	b.flipByte(t, bad.StorageKey)
	require.NoError(t, b.d.Store.Delete(ctx, storage.ManifestKey(orphan.StorageKey)))
	_, err := b.d.Pool.Exec(ctx, "TRUNCATE backups CASCADE")
	require.NoError(t, err)

	rep, err := Rescan(ctx, b.d)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{good.ID, bad.ID}, rep.Added)
	require.Len(t, rep.NotGood, 1)
	require.Contains(t, rep.NotGood[0], "SHA-256 mismatch")
	require.Len(t, rep.Skipped, 1)
	require.Contains(t, rep.Skipped[0], orphan.StorageKey)
	require.Contains(t, rep.Skipped[0], "no manifest")
	g, err := b.d.Q.BackupGet(ctx, good.ID)
	require.NoError(t, err)
	require.Equal(t, "verified", g.VerifyState, "hashed on the way in")
	x, err := b.d.Q.BackupGet(ctx, bad.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", x.VerifyState, "added, but not good")
}
