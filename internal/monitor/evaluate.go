package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// MetricName is the health_metrics row the worker's health job writes with each verdict (0 ok, 1 warning,
// 2 critical); its newest recorded_at proves the job runs.
const MetricName = "monitor_status"

// Evaluate runs every rule at now. store may be nil (storage is then not checked). It needs no worker, so
// `monitor-backups` on Heroku Scheduler notices a dead worker too.
func Evaluate(ctx context.Context, q *queries.Queries, store storage.Store, now time.Time) (Report, error) {
	r := Report{Status: StatusOK, CheckedAt: now, Problems: []Problem{}}
	for _, check := range []func(context.Context, *queries.Queries, storage.Store, time.Time, *Report) error{
		stats, failedBackups, staleBackups, failedVerifications, storageFull, monitorRunning,
	} {
		if err := check(ctx, q, store, now, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

func failedBackups(ctx context.Context, q *queries.Queries, _ storage.Store, _ time.Time, r *Report) error {
	rows, err := q.BackupLatestFinalPerSubject(ctx)
	if err != nil {
		return err
	}
	for _, b := range rows {
		if b.Status != "failed" {
			continue
		}
		subject := "kind:" + b.Kind
		if b.ScheduleID != nil {
			subject = fmt.Sprintf("schedule:%d", *b.ScheduleID)
		} else if good, err := q.BackupLatestGood(ctx, b.Kind); err == nil && finished(good).After(finished(b)) {
			continue // an unscheduled failure that a later good backup of the kind has made moot
		}
		r.add(Problem{Rule: RuleBackupFailed, Subject: subject, Severity: StatusCritical,
			Message:        fmt.Sprintf("The newest %s backup (#%d) failed: %s", b.Kind, b.ID, firstLine(b.Error)),
			Recommendation: "Open the backup's page for the full error, fix the cause, then use Back up now to confirm."})
	}
	return nil
}

// Deadline is when a schedule's kind must next have a fresh good backup: its newest good backup plus the
// schedule's longest interval plus grace (an hour, or a quarter interval if longer), so a slow dump is not
// mistaken for a missed one. A schedule with no good backup yet is measured from its creation.
func Deadline(s queries.Schedule, newestGood *time.Time, now time.Time) (time.Time, bool) {
	if !s.Active || s.Cadence == "manual" || s.Kind == "drill" {
		return time.Time{}, false
	}
	c, err := schedule.Parse(schedule.FromRow(s).Spec)
	if err != nil {
		return time.Time{}, false
	}
	interval := c.Interval(now)
	from := s.CreatedAt
	if newestGood != nil && newestGood.After(from) {
		from = *newestGood
	}
	return from.Add(interval + max(time.Hour, interval/4)), true
}

func staleBackups(ctx context.Context, q *queries.Queries, _ storage.Store, now time.Time, r *Report) error {
	rows, err := q.ScheduleListActive(ctx)
	if err != nil {
		return err
	}
	for _, s := range rows {
		var newest *time.Time
		if b, err := q.BackupLatestGood(ctx, s.Kind); err == nil {
			t := finished(b)
			newest = &t
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		deadline, ok := Deadline(s, newest, now)
		if !ok || now.Before(deadline) {
			continue
		}
		since := "no good " + s.Kind + " backup exists yet"
		if newest != nil {
			since = fmt.Sprintf("the newest good %s backup is from %s (%s old)", s.Kind, newest.UTC().Format(time.RFC3339),
				now.Sub(*newest).Round(time.Minute))
		}
		r.add(Problem{Rule: RuleBackupStale, Subject: fmt.Sprintf("schedule:%d", s.ID), Severity: StatusCritical,
			Message:        fmt.Sprintf("Schedule %q is overdue: %s.", s.Name, since),
			Recommendation: "Check that the worker process is running (pisbackup worker) and look at recent failed backups."})
	}
	return nil
}
