package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// runningRecovery records a running recovery of mode on a fresh backup row and creates its scratch database
// through the Guard, as recordrecovery.Compare does; it returns the row and the scratch database's name.
func runningRecovery(t *testing.T, b *testBundle, mode string) (queries.Recovery, string) {
	t.Helper()
	ctx := context.Background()
	bk, err := b.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true})
	require.NoError(t, err)
	rec, err := b.d.Q.RecoveryCreate(ctx, queries.RecoveryCreateParams{BackupID: &bk.ID, RequestedBy: "alice", Mode: mode,
		TableName: "public.patients_patient", Selection: []byte(`{"keys":[{"id":"1042"}]}`)})
	require.NoError(t, err)
	g := NewGuard(b.d.Cfg, b.d.Q)
	inst, err := g.Installation(ctx)
	require.NoError(t, err)
	scratch := backup.RecoveryScratchName(inst, rec.ID)
	require.NoError(t, g.CreateOwned(ctx, scratch, "recovery"))
	t.Cleanup(func() { testdb.DropDatabase(t, scratch) })
	return rec, scratch
}

// A record recovery whose process was killed (kill -9 in the CLI, a crashed server mid-request) leaves its row
// running and its scratch database behind. Once its lease is stale the reconciler fails the row, naming the dead
// holder and saying what became of the clinic database, and drops the scratch database; one that never took a
// lease is judged the same way once it has been running longer than the stale period.
func TestReconcileEndsDeadRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.RestartGrace = -1 // the test server may have started less than a stale period ago
	ctx := context.Background()
	rec, scratch := runningRecovery(t, b, RecoverApply)
	_, err := b.d.Pool.Exec(ctx, `INSERT INTO job_leases (queue, kind, holder, heartbeat_at)
		VALUES ($1, 'recovery', 'dead-host:4242', now() - interval '10 minutes')`, RecoveryLease(rec.ID))
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(ctx, "UPDATE recoveries SET undo_key = 'recovery-undo/x' WHERE id = $1", rec.ID) // it was writing
	require.NoError(t, err)
	leaseless, scratch2 := runningRecovery(t, b, RecoverDryRun)
	_, err = b.d.Pool.Exec(ctx, "UPDATE recoveries SET created_at = now() - interval '10 minutes' WHERE id = $1", leaseless.ID)
	require.NoError(t, err)

	stuck, err := FindStuck(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{rec.ID, leaseless.ID}, recoveryIDs(stuck), "cleanup-stuck-backups --dry-run lists them")
	require.True(t, b.databaseExists(t, scratch), "a dry run drops nothing")

	// A server that has not been up for the grace period judges nothing: holders may be reconnecting.
	b.d.RestartGrace = 1000 * time.Hour
	fixed, err := Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Empty(t, recoveryIDs(fixed))
	b.d.RestartGrace = -1

	fixed, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{rec.ID, leaseless.ID}, recoveryIDs(fixed))

	got, err := b.d.Q.RecoveryGet(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.NotNil(t, got.Error)
	require.NotNil(t, got.FinishedAt)
	require.Contains(t, *got.Error, "the process running it stopped: no heartbeat from dead-host:4242 since")
	require.Contains(t, *got.Error, "one transaction on the clinic database, which PostgreSQL rolls back")
	require.Contains(t, *got.Error, "scratch database "+scratch+" dropped")
	require.NotContains(t, *got.Error, "\n")
	require.False(t, b.databaseExists(t, scratch))
	var leases int
	require.NoError(t, b.d.Pool.QueryRow(ctx, "SELECT count(*) FROM job_leases WHERE queue = $1", RecoveryLease(rec.ID)).Scan(&leases))
	require.Zero(t, leases, "the dead holder's lease goes with its recovery")

	got, err = b.d.Q.RecoveryGet(ctx, leaseless.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.Contains(t, *got.Error, "it never took its lease")
	require.Contains(t, *got.Error, "a dry_run writes nothing to the clinic database")
	require.False(t, b.databaseExists(t, scratch2))

	audit, err := b.d.Q.AuditList(ctx, 50)
	require.NoError(t, err)
	var audited bool
	for _, a := range audit {
		audited = audited || (a.Actor == "reconciler" && a.Target == "recovery:"+itoa(rec.ID) && a.Action == "recovery.apply")
	}
	require.True(t, audited, "ending it is audited like any recovery outcome")

	fixed, err = Reconcile(ctx, b.d, time.Minute)
	require.NoError(t, err)
	require.Empty(t, recoveryIDs(fixed), "a second pass finds nothing more")
}

// A live recovery — its holder renews its lease — is left alone, scratch database and all, whatever its age;
// so is one that started moments ago and has not taken its lease yet. The holder's lease ends with it.
func TestReconcileLeavesLiveRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.RestartGrace = -1
	ctx := context.Background()
	rec, scratch := runningRecovery(t, b, RecoverApply)
	_, err := b.d.Pool.Exec(ctx, "UPDATE recoveries SET created_at = now() - interval '3 hours' WHERE id = $1", rec.ID)
	require.NoError(t, err)
	hctx, release := holdRecovery(ctx, b.d, rec.ID)
	young, scratch2 := runningRecovery(t, b, RecoverDryRun)

	var h string
	require.NoError(t, b.d.Pool.QueryRow(ctx, "SELECT holder FROM job_leases WHERE queue = $1 AND kind = 'recovery'", RecoveryLease(rec.ID)).Scan(&h))
	require.Equal(t, holder, h)
	// The lease is renewed on the database's clock: back-dated, it is fresh again within a beat.
	_, err = b.d.Pool.Exec(ctx, "UPDATE job_leases SET heartbeat_at = now() - interval '10 minutes' WHERE queue = $1", RecoveryLease(rec.ID))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var fresh bool
		require.NoError(t, b.d.Pool.QueryRow(ctx, "SELECT heartbeat_at > now() - interval '5 seconds' FROM job_leases WHERE queue = $1",
			RecoveryLease(rec.ID)).Scan(&fresh))
		return fresh
	}, 10*time.Second, 50*time.Millisecond)

	for range 2 {
		stuck, err := FindStuck(ctx, b.d, time.Minute)
		require.NoError(t, err)
		require.Empty(t, recoveryIDs(stuck))
		fixed, err := Reconcile(ctx, b.d, time.Minute)
		require.NoError(t, err)
		require.Empty(t, recoveryIDs(fixed))
	}
	for _, id := range []int64{rec.ID, young.ID} {
		got, err := b.d.Q.RecoveryGet(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "running", got.Status)
	}
	require.True(t, b.databaseExists(t, scratch))
	require.True(t, b.databaseExists(t, scratch2))
	require.NoError(t, hctx.Err(), "its holder goes on")

	release()
	var leases int
	require.NoError(t, b.d.Pool.QueryRow(ctx, "SELECT count(*) FROM job_leases WHERE queue = $1", RecoveryLease(rec.ID)).Scan(&leases))
	require.Zero(t, leases, "released at the end")
}

// A holder that stalled past the stale period (judged dead, its recovery failed) is told at its next beat and
// stops, so it never writes after the reconciler said nothing was written.
func TestRecoveryHolderStopsWhenReconciled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec, _ := runningRecovery(t, b, RecoverApply)
	hctx, release := holdRecovery(ctx, b.d, rec.ID)
	defer release()
	n, err := b.d.Q.RecoveryAbandon(ctx, queries.RecoveryAbandonParams{ID: rec.ID, Error: "x", StaleSeconds: 60})
	require.NoError(t, err)
	require.Zero(t, n, "a fresh lease is not ended")
	_, err = b.d.Pool.Exec(ctx, "UPDATE recoveries SET status = 'failed' WHERE id = $1", rec.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return hctx.Err() != nil }, 10*time.Second, 20*time.Millisecond)
	require.True(t, errors.Is(context.Cause(hctx), errRecoveryEnded))
}

// A holder the reconciler ended while it only stalled must not write, even within the beat before its
// heartbeat tells it: recording the undo artifact, its last step before writing, is refused at once.
func TestRecoveryEndedWhileStalledNeverWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec, _ := runningRecovery(t, b, RecoverApply)
	hctx, release := holdRecovery(ctx, b.d, rec.ID)
	defer release()
	require.NoError(t, recordUndo(hctx, b.d, rec.ID, "recovery-undo/live", "sha", 1), "a live holder records its undo artifact")

	stalled, _ := runningRecovery(t, b, RecoverApply)
	sctx, srelease := holdRecovery(ctx, b.d, stalled.ID)
	defer srelease()
	// The reconciler finds its lease stale (the process stalled) and ends it; the holder resumes at once.
	_, err := b.d.Pool.Exec(ctx, "UPDATE job_leases SET heartbeat_at = now() - interval '10 minutes' WHERE queue = $1", RecoveryLease(stalled.ID))
	require.NoError(t, err)
	n, err := b.d.Q.RecoveryAbandon(ctx, queries.RecoveryAbandonParams{ID: stalled.ID, Error: "the process running it stopped", StaleSeconds: 60})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	err = recordUndo(sctx, b.d, stalled.ID, "recovery-undo/stalled", "sha", 1)
	require.ErrorIs(t, err, errRecoveryEnded)
	got, err := b.d.Q.RecoveryGet(ctx, stalled.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.Nil(t, got.UndoKey, "the reconciler's verdict (not writing) stands")
}

func recoveryIDs(fs []Fixed) []int64 {
	var ids []int64
	for _, f := range fs {
		if f.What == "recovery" {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// A recovery the reconciler ended keeps that verdict: its process, finishing late, cannot flip the row back to
// succeeded (the dry run and SQL modes have no write to refuse, so this is where they must be stopped).
func TestRecoveryFinishKeepsTheReconcilersVerdict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec, _ := runningRecovery(t, b, RecoverDryRun)
	_, err := b.d.Pool.Exec(ctx, "UPDATE recoveries SET status = 'failed', error = 'the process running it stopped' WHERE id = $1", rec.ID)
	require.NoError(t, err)
	_, err = b.d.Q.RecoveryFinish(ctx, queries.RecoveryFinishParams{ID: rec.ID, Status: "succeeded", Summary: []byte(`{}`)})
	require.ErrorIs(t, err, pgx.ErrNoRows)
	got, err := b.d.Q.RecoveryGet(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
	require.Equal(t, "the process running it stopped", *got.Error)
}

// An --apply whose process only stalled past the stale period (Ctrl-Z, a paused VM, a catalog it could not
// reach) after recording its undo artifact can still commit its rows once it resumes: the reconciler had already
// failed the row saying PostgreSQL rolls the write back. The late finish must then tell the truth — the rows are
// written — and leave the recovery undoable, not "failed" with "wrote nothing to undo".
func TestLateCommittedApplyIsRecordedAsWritten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec, _ := runningRecovery(t, b, RecoverApply)
	_, err := b.d.Pool.Exec(ctx, `UPDATE recoveries SET undo_key = 'recovery-undo/x', status = 'failed',
		error = 'the process running it stopped: … which PostgreSQL rolls back when the process dies' WHERE id = $1`, rec.ID)
	require.NoError(t, err)
	res := &RecoverResult{RecoveryID: rec.ID, Mode: RecoverApply, UndoKey: "recovery-undo/x"}
	status, err := finishRecovery(ctx, b.d, rec.ID, RecoverApply, res, []byte(`{}`), nil)
	require.Equal(t, "succeeded", status, "the rows were committed")
	require.Error(t, err, "the caller still hears that the reconciler had ended it")
	require.Contains(t, err.Error(), "rows were written")
	got, err := b.d.Q.RecoveryGet(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, "succeeded", got.Status, "so --undo can take the rows back")
	require.Contains(t, *got.Error, "committed its rows")
	require.NotContains(t, *got.Error, "rolls back")

	// A dry run (or an apply that never committed) keeps the reconciler's verdict.
	dry, _ := runningRecovery(t, b, RecoverDryRun)
	_, err = b.d.Pool.Exec(ctx, "UPDATE recoveries SET status = 'failed', error = 'the process running it stopped' WHERE id = $1", dry.ID)
	require.NoError(t, err)
	status, err = finishRecovery(ctx, b.d, dry.ID, RecoverDryRun, &RecoverResult{RecoveryID: dry.ID, Mode: RecoverDryRun}, []byte(`{}`), nil)
	require.Equal(t, "failed", status)
	require.ErrorIs(t, err, errRecoveryEnded)
	got, err = b.d.Q.RecoveryGet(ctx, dry.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)
}

// A holder that renews its lease between the reconciler's listing and its ending of the recovery is alive: the
// recovery keeps running and keeps its scratch database (dropped WITH FORCE, it would lose its connections
// mid-comparison). Before, the scratch database was dropped first and the row then found alive.
func TestReconcileDropsNoScratchOfARecoveryThatRenewed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.RestartGrace = -1
	ctx := context.Background()
	rec, scratch := runningRecovery(t, b, RecoverDryRun)
	_, err := b.d.Pool.Exec(ctx, `INSERT INTO job_leases (queue, kind, holder, heartbeat_at)
		VALUES ($1, 'recovery', 'slow-host:1', now() - interval '10 minutes')`, RecoveryLease(rec.ID))
	require.NoError(t, err)
	dead, err := b.d.Q.RecoveriesAbandoned(ctx, queries.RecoveriesAbandonedParams{StaleSeconds: 60, RestartGraceSeconds: -1})
	require.NoError(t, err)
	var row *queries.RecoveriesAbandonedRow
	for i := range dead {
		if dead[i].ID == rec.ID {
			row = &dead[i]
		}
	}
	require.NotNil(t, row)
	n, err := b.d.Q.RecoveryLeaseBeat(ctx, rec.ID) // the stalled holder resumes
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, ended := endRecovery(ctx, b.d, *row, recoveryAbandonReason(*row), time.Minute)
	require.False(t, ended)
	require.True(t, b.databaseExists(t, scratch), "a live recovery's scratch database is left alone")
	got, err := b.d.Q.RecoveryGet(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, "running", got.Status)
}
