package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

func stats(ctx context.Context, q *queries.Queries, _ storage.Store, now time.Time, r *Report) error {
	for _, w := range []struct {
		since       time.Duration
		total, good *int64
		rate        *float64
	}{{24 * time.Hour, &r.Stats.Finished24h, &r.Stats.Good24h, &r.Stats.SuccessRate24h},
		{7 * 24 * time.Hour, &r.Stats.Finished7d, &r.Stats.Good7d, &r.Stats.SuccessRate7d}} {
		o, err := q.BackupOutcomesSince(ctx, now.Add(-w.since))
		if err != nil {
			return err
		}
		*w.total, *w.good, *w.rate = o.Total, o.Good, 1
		if o.Total > 0 {
			*w.rate = float64(o.Good) / float64(o.Total)
		}
	}
	r.Stats.LastGoodAgeSeconds = map[string]float64{}
	for _, kind := range []string{"database", "media", "full"} {
		b, err := q.BackupLatestGood(ctx, kind)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		} else if err != nil {
			return err
		}
		at := finished(b)
		r.Stats.LastGoodAgeSeconds[kind] = now.Sub(at).Seconds()
		if kind == "database" {
			r.Stats.LastGoodDatabase = &at
		}
	}
	if b, err := q.BackupNewestDrilled(ctx); err == nil {
		age := now.Sub(finished(b)).Seconds()
		r.Stats.DrillProvenAgeSeconds = &age
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return nil
}

func failedVerifications(ctx context.Context, q *queries.Queries, _ storage.Store, _ time.Time, r *Report) error {
	rows, err := q.VerificationLatestFinalByLevel(ctx)
	if err != nil {
		return err
	}
	for _, v := range rows {
		if v.Status != "failed" {
			continue
		}
		what := "verification"
		if v.Level == "drill" {
			what = "restore drill"
		}
		r.add(Problem{Rule: RuleVerificationFailed, Subject: "level:" + v.Level, Severity: StatusCritical,
			Message:        fmt.Sprintf("The newest %s %s (of backup #%d) failed: %s", v.Level, what, v.BackupID, firstLine(v.Error)),
			Recommendation: "A backup that does not verify may not restore. Open the backup, read the error and run a new backup and drill."})
	}
	return nil
}

func storageFull(ctx context.Context, _ *queries.Queries, store storage.Store, _ time.Time, r *Report) error {
	if store == nil {
		return nil
	}
	u, err := store.Usage(ctx)
	if err != nil {
		r.add(Problem{Rule: RuleStorageFull, Subject: "storage", Severity: StatusWarning,
			Message: "Backup storage usage could not be read: " + firstLine(err.Error()), Recommendation: "Check BACKUP_STORAGE."})
		return nil
	}
	r.Stats.StorageUsedBytes, r.Stats.StorageFreeBytes, r.Stats.StorageTotalBytes = u.UsedBytes, u.FreeBytes, u.TotalBytes
	if u.TotalBytes <= 0 {
		return nil // unknown capacity (object stores)
	}
	free := float64(u.FreeBytes) / float64(u.TotalBytes)
	if free >= 0.10 {
		return nil
	}
	sev := StatusWarning
	if free < 0.05 {
		sev = StatusCritical
	}
	r.add(Problem{Rule: RuleStorageFull, Subject: "storage", Severity: sev,
		Message:        fmt.Sprintf("Backup storage is %.0f%% full (%d MiB free).", 100*(1-free), u.FreeBytes>>20),
		Recommendation: "Tighten retention on the schedules page or give the backup volume more space."})
	return nil
}

func monitorRunning(ctx context.Context, q *queries.Queries, _ storage.Store, now time.Time, r *Report) error {
	at, err := q.HealthMetricLatestAt(ctx, MetricName)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if err == nil {
		r.Stats.MonitorLastRun = &at
		if now.Sub(at) <= 2*Interval {
			return nil
		}
	}
	msg := "The worker's health job has never run."
	if err == nil {
		msg = fmt.Sprintf("The worker's health job last ran %s ago.", now.Sub(at).Round(time.Minute))
	}
	r.add(Problem{Rule: RuleMonitorNotRunning, Subject: "worker", Severity: StatusCritical, Message: msg + " Scheduled backups are probably not running either.",
		Recommendation: "Start the worker (pisbackup worker, or the Heroku worker dyno) and check its logs."})
	return nil
}

func finished(b queries.Backup) time.Time {
	if b.FinishedAt != nil {
		return *b.FinishedAt
	}
	return b.QueuedAt
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
