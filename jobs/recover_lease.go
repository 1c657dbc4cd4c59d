package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// A record recovery (Recover) runs in the process that asked for it — `pisbackup recover`, or an HTTP request —
// not as a River job, so it holds a lease of the queue form (job_leases.queue = RecoveryLease(id), kind
// "recovery") from just after its row is created until its outcome is recorded, renewed every BeatEvery on the
// database's clock. When that process dies (kill -9, OOM, a server crash) the lease goes stale and the
// reconciler (reconcileRecoveries) fails the row with the dead holder's name and drops the scratch database the
// recovery left. An undo (UndoRecovery) needs none: it leaves no row running and no scratch database, and it
// reverses the rows in one transaction, which PostgreSQL rolls back if its process dies.

// RecoveryLease is the queue-form lease name of recovery id. It must match 'recovery_' || id in
// queries/recoveries.sql, and never starts with "cli_" (a CLI private queue, see JobsAbandoned).
func RecoveryLease(id int64) string { return "recovery_" + strconv.FormatInt(id, 10) }

// errRecoveryEnded is the cause of a recovery's context when its lease is lost: the reconciler judged its
// process dead (it stalled longer than the stale period) and failed it, so it must not go on writing.
var errRecoveryEnded = errors.New("the reconciler ended this recovery (its heartbeat lapsed)")

// holdRecovery takes recovery id's lease and renews it every BeatEvery until release is called; the returned
// context is cancelled (cause errRecoveryEnded) when the recovery is no longer running or its lease is gone. A
// lease that cannot be taken at first (catalog briefly down) is taken at a later beat; meanwhile the reconciler
// allows a recovery without a lease the same grace as a job without one. release stops the heartbeat and
// deletes the lease; call it after the outcome is recorded.
func holdRecovery(ctx context.Context, d *Deps, id int64) (context.Context, func()) {
	wctx, cancel := context.WithCancelCause(ctx)
	acquire := func() bool {
		n, err := d.Q.RecoveryLeaseAcquire(ctx, queries.RecoveryLeaseAcquireParams{ID: id, Holder: holder})
		if err == nil && n == 0 {
			cancel(errRecoveryEnded) // no longer running: the reconciler ended it before we could hold it
		}
		return err == nil && n > 0
	}
	held := acquire()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(BeatEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !held {
				if held = acquire(); wctx.Err() != nil {
					return
				}
				continue
			}
			n, err := d.Q.RecoveryLeaseBeat(ctx, id)
			if err == nil && n == 0 {
				cancel(errRecoveryEnded)
				return
			}
		}
	}()
	return wctx, func() {
		close(stop)
		<-finished
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		_ = d.Q.LeaseReleaseQueue(rctx, RecoveryLease(id))
		cancel(nil)
	}
}

// reconcileRecoveries fails running recoveries whose process died (RecoveriesAbandoned: lease stale, or none
// past the grace) with a one-line reason naming the dead holder, and drops the scratch database each left —
// through Guard.DropOwned, so only a database this catalog recorded creating for that recovery. With dry, it
// only lists them (FindStuck).
func reconcileRecoveries(ctx context.Context, d *Deps, stale time.Duration, dry bool) ([]Fixed, error) {
	dead, err := d.Q.RecoveriesAbandoned(ctx, queries.RecoveriesAbandonedParams{StaleSeconds: stale.Seconds(),
		RestartGraceSeconds: d.restartGrace(stale).Seconds()})
	if err != nil {
		return nil, err
	}
	var fixed []Fixed
	for _, r := range dead {
		reason := recoveryAbandonReason(r)
		if dry {
			fixed = append(fixed, Fixed{What: "recovery", ID: r.ID, Reason: reason})
			continue
		}
		if reason, ok := endRecovery(ctx, d, r, reason, stale); ok {
			fixed = append(fixed, Fixed{What: "recovery", ID: r.ID, Reason: reason})
		}
	}
	return fixed, nil
}

// endRecovery fails dead recovery r (listed by RecoveriesAbandoned) and then drops its scratch database. The
// row is failed first, while its lease is still stale: a holder that renewed since the listing is alive, and
// dropping its scratch database first (WITH FORCE) would cut a live recovery's connections.
func endRecovery(ctx context.Context, d *Deps, r queries.RecoveriesAbandonedRow, reason string, stale time.Duration) (string, bool) {
	n, err := d.Q.RecoveryAbandon(ctx, queries.RecoveryAbandonParams{ID: r.ID, Error: reason, StaleSeconds: stale.Seconds()})
	if err != nil || n == 0 {
		return "", false // it finished, or its holder renewed, meanwhile
	}
	if dropped := dropRecoveryScratch(ctx, d, r.ID); dropped != "" {
		reason += dropped
		_ = d.Q.RecoveryAbandonNote(ctx, queries.RecoveryAbandonNoteParams{ID: r.ID, Error: reason})
	}
	d.Log.Warn("reconciler failed an abandoned record recovery", "recovery_id", r.ID, "reason", reason)
	_ = auditRecovery(ctx, d, "reconciler", "recovery."+r.Mode, "recovery:"+strconv.FormatInt(r.ID, 10),
		map[string]any{"mode": r.Mode, "status": "failed", "error": reason})
	return reason, true
}

// recoveryAbandonReason says, in one line, whose heartbeat stopped and what that means for the clinic database.
func recoveryAbandonReason(r queries.RecoveriesAbandonedRow) string {
	at := r.LastSeen.UTC().Format(time.RFC3339)
	msg := "the process running it stopped: "
	if r.Holder != "" {
		msg += fmt.Sprintf("no heartbeat from %s since %s", r.Holder, at)
	} else {
		msg += fmt.Sprintf("it never took its lease (started %s)", at)
	}
	switch {
	case r.Mode != RecoverApply:
		msg += "; a " + r.Mode + " writes nothing to the clinic database"
	case !r.Writing:
		msg += "; it had not begun writing (no undo artifact was saved): the clinic database is unchanged"
	default:
		msg += "; it was applying its rows in one transaction on the clinic database, which PostgreSQL rolls back when " +
			"the process dies (unless it had just committed: a dry run of the same rows shows which)"
		var sel struct {
			WithMedia bool `json:"with_media"`
		}
		if json.Unmarshal(r.Selection, &sel) == nil && sel.WithMedia {
			msg += "; media files it was restoring may remain in MEDIA_ROOT (its undo artifact lists them)"
		}
	}
	return msg
}

// dropRecoveryScratch drops dead recovery id's scratch database when this catalog recorded creating it for a
// recovery, and returns what the row's error should add.
func dropRecoveryScratch(ctx context.Context, d *Deps, id int64) string {
	if d.Cfg == nil {
		return ""
	}
	g := NewGuard(d.Cfg, d.Q)
	inst, err := g.Installation(ctx)
	if err != nil {
		d.Log.Warn("could not look for an abandoned recovery's scratch database", "recovery_id", id, "error", err)
		return ""
	}
	name := backup.RecoveryScratchName(inst, id)
	exists, owned, err := g.Owned(ctx, name, "recovery")
	if err == nil && exists && owned {
		err = g.DropOwned(ctx, name, "recovery")
	} else if err == nil && !exists {
		_ = g.DropOwned(ctx, name, "recovery") // forgets a stale record of it, drops nothing
	}
	switch {
	case err != nil:
		d.Log.Warn("could not drop an abandoned recovery's scratch database", "database", name, "error", err)
		return "; its scratch database " + name + " was not dropped: " + d.Cfg.ScrubErr(err)
	case exists && owned:
		return "; scratch database " + name + " dropped"
	case exists:
		return "; a database named " + name + " exists but this installation did not create it: left alone"
	}
	return ""
}
