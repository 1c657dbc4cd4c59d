package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// reconcileChecks ends verifications, restores and media migrations whose job is gone or already final (their
// worker died), so no such row stays "running" forever; it drops the scratch database an abandoned drill left
// and the partial database an abandoned restore created. It only drops databases named after this catalog's
// own verifications, or that the restore itself created (see dropPartialTarget).
func reconcileChecks(ctx context.Context, d *Deps) ([]Fixed, error) {
	var fixed []Fixed
	vs, err := d.Q.VerificationOrphaned(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		reason := orphanReason(v.JobState, v.LastError)
		n, err := d.Q.VerificationAbandon(ctx, queries.VerificationAbandonParams{ID: v.ID, Error: reason})
		if err != nil || n == 0 {
			continue // it finished meanwhile
		}
		d.Log.Warn("reconciler failed an abandoned verification", "verification_id", v.ID, "reason", reason)
		if v.Level == "drill" && d.Cfg != nil {
			if g := NewGuard(d.Cfg, d.Q); g != nil {
				if inst, err := g.Installation(ctx); err == nil {
					name := backup.ScratchName(inst, v.ID)
					if err := g.DropOwned(ctx, name, "drill"); err != nil {
						d.Log.Warn("could not drop an abandoned drill's scratch database", "database", name, "error", err)
					} else {
						reason += "; scratch database " + name + " dropped"
					}
				}
			}
		}
		fixed = append(fixed, Fixed{What: "verification", ID: v.ID, Reason: reason})
	}
	rs, err := d.Q.RestoreOrphaned(ctx)
	if err != nil {
		return fixed, err
	}
	for _, r := range rs {
		msg := orphanReason(r.JobState, r.LastError) + dropPartialTarget(ctx, d, r)
		if n, err := d.Q.RestoreAbandon(ctx, queries.RestoreAbandonParams{ID: r.ID, Error: msg}); err == nil && n > 0 {
			d.Log.Warn("reconciler failed an abandoned restore", "restore_id", r.ID, "reason", msg)
			fixed = append(fixed, Fixed{What: "restore", ID: r.ID, Reason: msg})
		}
	}
	ids, err := d.Q.MediaMigrationFailOrphaned(ctx)
	for _, id := range ids {
		d.Log.Warn("reconciler failed an abandoned media migration", "migration_id", id)
		fixed = append(fixed, Fixed{What: "media migration", ID: id, Reason: "its job ended without finishing the run"})
	}
	return fixed, err
}

// dropPartialTarget removes the database an abandoned restore was writing, but only when the restore created
// it (a new target, not one the operator confirmed replacing) and the catalog's record of creating it still
// matches the server's database (backup.Guard.DropOwned): a database anyone else created under that name is
// left alone.
// It returns what the row should add to its error.
func dropPartialTarget(ctx context.Context, d *Deps, r queries.RestoreOrphanedRow) string {
	var plan restorePlan
	if r.TargetKind != "database" || r.DryRun || json.Unmarshal(r.Details, &plan) != nil || plan.Database == "" || d.Cfg == nil {
		return ""
	}
	if plan.Replace {
		return "; the target database " + plan.Database + " holds a partial restore (it replaced an existing database, so it was kept)"
	}
	g := NewGuard(d.Cfg, d.Q)
	exists, owned, err := g.Owned(ctx, plan.Database, "restore")
	if err == nil && exists && owned {
		err = g.DropOwned(ctx, plan.Database, "restore")
	}
	switch {
	case err != nil:
		d.Log.Warn("could not drop an abandoned restore's partial database", "database", plan.Database, "error", err)
		return "; the target database " + plan.Database + " may hold a partial restore (could not drop it: " + d.Cfg.ScrubErr(err) + ")"
	case exists && owned:
		return "; the partial database " + plan.Database + " it had created was dropped"
	}
	return ""
}

// tempOwner finds the backup id in a temporary object's name (storage names temporaries after the key they
// will publish, which ends in "-<backup id>.<extension>").
var tempOwner = regexp.MustCompile(`-(\d+)\.[a-z.]+$`)

// cleanupTemp removes temporary storage objects whose owner is not working: a backup that is no longer queued
// or running (the reconciler ended it if its process died). It follows the owner's lease, not the file's
// age, so a backup waiting hours on a lock keeps its file. Objects with no recognisable owner go by age.
func cleanupTemp(ctx context.Context, d *Deps, stale time.Duration) {
	if d.Store == nil {
		return
	}
	removed, err := d.Store.CleanupTemp(ctx, stale, func(name string) (owned, alive bool) {
		m := tempOwner.FindStringSubmatch(name)
		if m == nil {
			return false, false
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		b, err := d.Q.BackupGet(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return true, false
		} else if err != nil {
			return true, true // cannot tell (catalog unreachable): keep it
		}
		return true, b.Status == "queued" || b.Status == "running"
	})
	if err != nil {
		d.Log.Warn("temp cleanup failed", "error", err)
	} else if len(removed) > 0 {
		d.Log.Info("removed temporary objects left by interrupted backups", "count", len(removed))
	}
}
