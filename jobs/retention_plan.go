package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// RetentionPlan is what a policy decides for one schedule now.
type RetentionPlan struct {
	Schedule  queries.Schedule
	Policy    schedule.Policy
	Decisions []schedule.Decision // counted backups (good, not uploads), newest first
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

// PlanRetention computes what retention would do to a schedule's backups under its stored policy, changing
// nothing. An invalid stored policy (one saved before a rule existed) is an error, and nothing is pruned.
func PlanRetention(ctx context.Context, d *Deps, scheduleID int64) (RetentionPlan, error) {
	return PreviewRetention(ctx, d, scheduleID, nil)
}

// PreviewRetention is PlanRetention with the policy and time zone of in (nil: the stored ones): what saving in
// would delete now. The schedule form and the API's dry run show it before a policy is saved. Bad fields come
// back as schedule.Errors.
func PreviewRetention(ctx context.Context, d *Deps, scheduleID int64, in *schedule.Input) (RetentionPlan, error) {
	s, err := d.Q.ScheduleGet(ctx, scheduleID)
	if err != nil {
		return RetentionPlan{}, err
	}
	stored := schedule.FromRow(s)
	if in == nil {
		in = &stored
	}
	c, err := schedule.Parse(in.Spec)
	if err != nil {
		return RetentionPlan{}, err
	}
	if err := in.Policy.Validate(); err != nil {
		return RetentionPlan{}, err
	}
	rows, err := d.Q.BackupRetentionCandidates(ctx, &scheduleID)
	if err != nil {
		return RetentionPlan{}, err
	}
	// The newest good backup of the kind and the newest proven one are kept even when another schedule (or a
	// manual run) made them. Both queries exclude uploads and backups whose newest verification failed.
	pinned := map[int64]string{}
	if nd, err := d.Q.BackupNewestProven(ctx, nil); err == nil {
		pinned[nd.ID] = "newest proven backup"
	}
	if ng, err := d.Q.BackupLatestGood(ctx, s.Kind); err == nil {
		pinned[ng.ID] = "newest good " + s.Kind + " backup"
	}
	plan := RetentionPlan{Schedule: s, Policy: in.Policy, Rows: map[int64]queries.BackupRetentionCandidatesRow{}}
	items := make([]schedule.Item, 0, len(rows))
	for _, r := range rows {
		at := r.QueuedAt
		if r.FinishedAt != nil {
			at = *r.FinishedAt
		}
		items = append(items, schedule.Item{ID: r.ID, At: at, Origin: origin(r.Origin, r.Trigger, r.CreatedBy),
			Good:   (r.Status == "succeeded" || r.Status == "warning") && r.PrunedAt == nil && !r.VerifyFailed,
			Proven: r.Drilled, InUse: r.InUse, Pinned: pinned[r.ID]})
		plan.Rows[r.ID] = r
	}
	plan.Decisions = schedule.Plan(in.Policy, items, d.now(), c.Location())
	return plan, nil
}

// origin reads how a schedule's backup came to be: the catalog's origin column says upload (issue 16's one
// definition); of pisbackup's own, the scheduler writes trigger "schedule" without a user, "Run now" writes
// "manual" or "api" (older rows: "schedule" with the pressing user).
func origin(catalogOrigin, trigger string, createdBy *int64) schedule.Origin {
	switch {
	case catalogOrigin == "upload":
		return schedule.Upload
	case trigger == "schedule" && createdBy == nil:
		return schedule.Scheduled
	}
	return schedule.Manual
}

// ApplyRetention prunes what PlanRetention says. For each backup it first writes a "retention.prune" audit
// event (no audit, no deletion), then deletes each stored object and its manifest (and a full backup's
// children's), then sets pruned_at, keeping the row as history. A storage error is audited as
// "retention.prune_failed" and leaves that row unpruned for the next pass. A schedule whose stored policy is
// invalid prunes nothing (logged).
func ApplyRetention(ctx context.Context, d *Deps, scheduleID int64) ([]queries.Backup, error) {
	plan, err := PlanRetention(ctx, d, scheduleID)
	var bad schedule.Errors
	if errors.As(err, &bad) {
		d.Log.Error("retention skipped: the schedule's stored policy is invalid; fix it on the schedule's page", "schedule_id", scheduleID, "error", err)
		return nil, nil
	} else if err != nil {
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
		row := plan.Rows[dec.ID]
		keys = append(keys, row.StorageKey)
		details := map[string]any{"schedule_id": scheduleID, "schedule": plan.Schedule.Name, "backup_at": dec.At,
			"origin": dec.Origin, "storage_keys": keys, "policy": plan.Policy}
		if err := auditRetention(ctx, d, "retention.prune", dec.ID, details); err != nil {
			d.Log.Error("retention did not prune a backup: its audit event could not be written", "backup_id", dec.ID, "error", err)
			continue
		}
		if err := deleteArtifacts(ctx, d.Store, keys); err != nil {
			d.Log.Warn("retention could not delete a backup's objects; will retry", "backup_id", dec.ID, "error", err)
			details["error"] = d.Cfg.ScrubErr(err) // the audit log is shown to admins
			if aerr := auditRetention(ctx, d, "retention.prune_failed", dec.ID, details); aerr != nil {
				d.Log.Error("audit event NOT recorded", "action", "retention.prune_failed", "backup_id", dec.ID, "error", aerr)
			}
			continue
		}
		for _, v := range victims {
			if _, err := d.Q.BackupMarkPruned(ctx, v.ID); err != nil {
				return pruned, err
			}
		}
		marked, err := d.Q.BackupMarkPruned(ctx, dec.ID)
		if err != nil {
			return pruned, err
		}
		d.Log.Info("retention pruned a backup", "backup_id", marked.ID, "schedule_id", scheduleID, "storage_key", marked.StorageKey)
		pruned = append(pruned, marked)
	}
	return pruned, nil
}

// auditRetention records a retention action on a backup; the actor is the retention job itself.
func auditRetention(ctx context.Context, d *Deps, action string, backupID int64, details any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = d.Q.AuditInsert(ctx, queries.AuditInsertParams{Actor: "retention", Action: action,
		Target: "backup:" + strconv.FormatInt(backupID, 10), Details: raw})
	return err
}

func deleteArtifacts(ctx context.Context, st storage.Store, keys []string) error {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := storage.DeleteArtifact(ctx, st, k); err != nil {
			return err
		}
	}
	return nil
}
