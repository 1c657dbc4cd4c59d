package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/queries"
)

// Kinds of work an operator can cancel (CancelWork's what).
const (
	WorkBackup         = "backup"
	WorkVerification   = "verification"
	WorkRestore        = "restore"
	WorkMediaMigration = "media_migration"
)

// ErrNotInFlight means the work already ended; there is nothing to cancel.
var ErrNotInFlight = errors.New("it is not queued or running")

// CancelOutcome says what CancelWork did.
type CancelOutcome string

const (
	// CancelRequested: the work is running; its process stops it at its next heartbeat (within a second),
	// kills pg_dump/pg_restore, removes temporary files and scratch databases, and ends the row "cancelled".
	CancelRequested CancelOutcome = "cancelling"
	// CancelDone: the work had not started (or its process was gone); the row is already "cancelled".
	CancelDone CancelOutcome = "cancelled"
)

// CancelWork cancels one backup, verification (drill), restore or media migration on behalf of by (who the
// row will name). Running work is asked to stop through its lease, whichever process holds it (a worker or a
// CLI command); work that has not started, or whose process is gone, is ended here at once and its job taken
// off the queue. A backup that is part of a full backup cancels the whole full backup (they share one job).
func CancelWork(ctx context.Context, d *Deps, what string, id int64, by string) (CancelOutcome, error) {
	w, err := GetWork(ctx, d.Q, what, id)
	if err != nil {
		return "", err
	}
	status, jobID := w.Status, w.JobID
	if status != "queued" && status != "running" {
		return "", fmt.Errorf("%s #%d is %s: %w", what, id, status, ErrNotInFlight)
	}
	reason := "cancelled by " + by
	if jobID != nil {
		if n, err := d.Q.LeaseRequestCancel(ctx, queries.LeaseRequestCancelParams{JobID: *jobID, By: by,
			StaleSeconds: d.staleAfter().Seconds()}); err != nil {
			return "", err
		} else if n > 0 {
			return CancelRequested, nil
		}
	}
	// Nobody live works it: end the row first (a worker that picks the job up now finds it ended and does
	// nothing), then take the job off the queue.
	if status == "running" {
		reason += " (its process had stopped heartbeating)"
	}
	if err := endCancelled(ctx, d, what, id, reason); err != nil {
		return "", err
	}
	if jobID != nil {
		if _, err := d.Q.JobCancelWaiting(ctx, queries.JobCancelWaitingParams{ID: *jobID, Reason: reason}); err != nil {
			return CancelDone, err
		}
		if _, err := d.Q.JobAbandon(ctx, queries.JobAbandonParams{ID: *jobID, State: "running", Reason: reason}); err != nil {
			return CancelDone, err
		}
	}
	return CancelDone, nil
}

// WorkRow is what CancelWork and its callers read of one piece of work: its status, its error and its job.
type WorkRow struct {
	Status, Error string
	JobID         *int64
}

// GetWork reads one backup, verification, restore or media migration as a WorkRow (pgx.ErrNoRows, wrapped,
// when it does not exist).
func GetWork(ctx context.Context, q *queries.Queries, what string, id int64) (WorkRow, error) {
	var w WorkRow
	var err error
	switch what {
	case WorkBackup:
		var b queries.Backup
		b, err = q.BackupGet(ctx, id)
		w = WorkRow{b.Status, b.Error, b.JobID}
	case WorkVerification:
		var v queries.Verification
		v, err = q.VerificationGet(ctx, id)
		w = WorkRow{v.Status, v.Error, v.JobID}
	case WorkRestore:
		var r queries.Restore
		r, err = q.RestoreGet(ctx, id)
		w = WorkRow{r.Status, r.Error, r.JobID}
	case WorkMediaMigration:
		var m queries.MediaMigration
		m, err = q.MediaMigrationGet(ctx, id)
		w = WorkRow{m.Status, m.Error, m.JobID}
	default:
		return w, fmt.Errorf("cannot cancel a %q (want backup, verification, restore or media_migration)", what)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("%s #%d: %w", what, id, err)
	}
	return w, err
}

func endCancelled(ctx context.Context, d *Deps, what string, id int64, reason string) error {
	switch what {
	case WorkBackup:
		row, err := d.Q.BackupFail(ctx, queries.BackupFailParams{ID: id, Status: "cancelled", Error: reason})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // it ended meanwhile
		} else if err != nil {
			return err
		}
		d.afterBackup(ctx, row)
		for _, c := range childrenInFlight(ctx, d, id) {
			_, _ = d.Q.BackupFail(ctx, queries.BackupFailParams{ID: c, Status: "cancelled", Error: reason})
		}
		return nil
	case WorkVerification:
		_, err := d.Q.VerificationCancel(ctx, queries.VerificationCancelParams{ID: id, Error: reason})
		return err
	case WorkRestore:
		_, err := d.Q.RestoreCancel(ctx, queries.RestoreCancelParams{ID: id, Error: reason})
		return err
	case WorkMediaMigration:
		_, err := d.Q.MediaMigrationFinish(ctx, queries.MediaMigrationFinishParams{ID: id, Status: "cancelled", Error: reason + "; re-run to resume"})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	}
	return nil
}

func childrenInFlight(ctx context.Context, d *Deps, parent int64) []int64 {
	kids, _ := d.Q.BackupListChildren(ctx, &parent)
	var ids []int64
	for _, k := range kids {
		if k.Status == "queued" || k.Status == "running" {
			ids = append(ids, k.ID)
		}
	}
	return ids
}
