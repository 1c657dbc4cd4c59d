package jobs

import (
	"context"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// RetentionPlan is what the policy decides for one schedule now.
type RetentionPlan struct {
	Schedule  queries.Schedule
	Decisions []schedule.Decision // good backups, newest first
	Rows      map[int64]queries.BackupRetentionCandidatesRow
}

// Prunes lists the decisions that delete.
func (p RetentionPlan) Prunes() []schedule.Decision {
	var out []schedule.Decision
	for _, d := range p.Decisions {
		if !d.Keep {
			out = append(out, d)
		}
	}
	return out
}

// PlanRetention computes what retention would do to a schedule's backups, changing nothing; the schedule page
// shows it as "would delete next".
func PlanRetention(ctx context.Context, d *Deps, scheduleID int64) (RetentionPlan, error) {
	s, err := d.Q.ScheduleGet(ctx, scheduleID)
	if err != nil {
		return RetentionPlan{}, err
	}
	c, err := schedule.Parse(schedule.FromRow(s).Spec)
	if err != nil {
		return RetentionPlan{}, err
	}
	rows, err := d.Q.BackupRetentionCandidates(ctx, &scheduleID)
	if err != nil {
		return RetentionPlan{}, err
	}
	// The newest good backup of the kind and the newest drilled one are kept even when another schedule (or a
	// manual run) made them.
	guard := map[int64]bool{}
	if nd, err := d.Q.BackupNewestDrilled(ctx); err == nil {
		guard[nd.ID] = true
	}
	if ng, err := d.Q.BackupLatestGood(ctx, s.Kind); err == nil {
		guard[ng.ID] = true
	}
	plan := RetentionPlan{Schedule: s, Rows: map[int64]queries.BackupRetentionCandidatesRow{}}
	items := make([]schedule.Item, 0, len(rows))
	for _, r := range rows {
		at := r.QueuedAt
		if r.FinishedAt != nil {
			at = *r.FinishedAt
		}
		good := (r.Status == "succeeded" || r.Status == "warning") && r.PrunedAt == nil
		items = append(items, schedule.Item{ID: r.ID, At: at, Good: good, Drilled: r.Drilled, InUse: r.InUse || guard[r.ID]})
		plan.Rows[r.ID] = r
	}
	plan.Decisions = schedule.Plan(schedule.FromRow(s).Policy, items, d.now(), c.Location())
	return plan, nil
}

// ApplyRetention prunes what PlanRetention says: it deletes each stored object and its manifest (and a full
// backup's children's), then sets pruned_at, keeping the row as history. A storage error leaves that row
// unpruned for the next pass.
func ApplyRetention(ctx context.Context, d *Deps, scheduleID int64) ([]queries.Backup, error) {
	plan, err := PlanRetention(ctx, d, scheduleID)
	if err != nil {
		return nil, err
	}
	var pruned []queries.Backup
	for _, dec := range plan.Prunes() {
		victims, err := d.Q.BackupListChildren(ctx, &dec.ID)
		if err != nil {
			return pruned, err
		}
		var keys []string
		for _, v := range victims {
			keys = append(keys, v.StorageKey)
		}
		keys = append(keys, plan.Rows[dec.ID].StorageKey)
		if err := deleteArtifacts(ctx, d.Store, keys); err != nil {
			d.Log.Warn("retention could not delete a backup's objects; will retry", "backup_id", dec.ID, "error", err)
			continue
		}
		for _, v := range victims {
			if _, err := d.Q.BackupMarkPruned(ctx, v.ID); err != nil {
				return pruned, err
			}
		}
		row, err := d.Q.BackupMarkPruned(ctx, dec.ID)
		if err != nil {
			return pruned, err
		}
		d.Log.Info("retention pruned a backup", "backup_id", row.ID, "schedule_id", scheduleID, "storage_key", row.StorageKey)
		pruned = append(pruned, row)
	}
	return pruned, nil
}

func deleteArtifacts(ctx context.Context, st storage.Store, keys []string) error {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := st.Delete(ctx, k); err != nil {
			return err
		}
		if err := st.Delete(ctx, storage.ManifestKey(k)); err != nil {
			return err
		}
	}
	return nil
}
