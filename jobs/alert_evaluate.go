package jobs

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/monitor"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &AlertEvaluateWorker{D: d}) })
	extraPeriodic = append(extraPeriodic, func(d *Deps) []*river.PeriodicJob {
		return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(AlertEvery),
			func() (river.JobArgs, *river.InsertOpts) { return AlertEvaluateArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "alert_evaluate"})}
	})
}

// AlertEvery is how often every alert rule is checked even when no event triggered it: the only way a rule
// like "storage nearly full" or a silent failure is noticed.
const AlertEvery = 5 * time.Minute

// AlertEvaluateArgs is the "alert_evaluate" job: run every alert rule and open, remind or resolve alerts.
type AlertEvaluateArgs struct{}

// Kind names the job in River.
func (AlertEvaluateArgs) Kind() string { return "alert_evaluate" }

// AlertEvaluateWorker runs the periodic evaluation.
type AlertEvaluateWorker struct {
	river.WorkerDefaults[AlertEvaluateArgs]
	D *Deps
}

// Work evaluates and applies. E-mails are recorded in the same transaction as the alert changes, and their
// delivery jobs are inserted with the running client. This job running is itself proof that the worker runs,
// so "monitor not running" is left out of what fires (but stays in scope, so an open one resolves).
func (w *AlertEvaluateWorker) Work(ctx context.Context, _ *river.Job[AlertEvaluateArgs]) error {
	client, _ := river.ClientFromContextSafely[pgx.Tx](ctx)
	_, _, err := EvaluateAlerts(ctx, w.D, client, true)
	return err
}

// EvaluateAlerts runs the monitor and this package's own rules once and applies the result; monitor-backups
// --send-alerts calls it without a worker (inWorker false).
func EvaluateAlerts(ctx context.Context, d *Deps, client *river.Client[pgx.Tx], inWorker bool) (monitor.Report, alert.Outcome, error) {
	now := d.now()
	if ids, err := d.Q.EmailFailOrphaned(ctx, now.Add(-10*time.Minute)); err != nil {
		return monitor.Report{}, alert.Outcome{}, err
	} else if len(ids) > 0 {
		d.Log.Warn("e-mails whose delivery job ended without sending were marked failed", "email_ids", ids)
	}
	var rep monitor.Report
	out, err := d.Alerts(client).Evaluate(ctx, func(ctx context.Context, q *queries.Queries) (alert.Scope, []alert.Condition, error) {
		var err error
		if rep, err = monitor.Evaluate(ctx, q, d.Store, now); err != nil {
			return nil, nil, err
		}
		if inWorker {
			rep = rep.Without(monitor.RuleMonitorNotRunning)
		}
		names, err := alert.ScheduleNames(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		own, ownRules, err := alert.EvaluateOwn(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		rules := append(append([]string{}, alert.MonitorRules...), ownRules...)
		if d.Store == nil {
			rules = slices.DeleteFunc(rules, func(r string) bool { return r == alert.RuleStorageFull })
		}
		return alert.ForRules(rules...), append(alert.FromReport(rep, names), own...), nil
	})
	return rep, out, err
}

// Alerts is the alert engine for these dependencies; e-mail delivery jobs are inserted with client.
func (d *Deps) Alerts(client *river.Client[pgx.Tx]) *alert.Engine {
	return &alert.Engine{Pool: d.Pool, Cfg: d.Cfg, Log: d.Log, Now: d.now, Deliver: EmailDeliverer(client)}
}

// AlertOnBackup is the AfterBackup hook that opens "backup failed" the moment a backup fails and resolves it
// (with its recovery e-mail) the moment the same schedule next succeeds, without waiting for the monitor.
func AlertOnBackup(d *Deps) func(ctx context.Context, b queries.Backup) {
	return func(ctx context.Context, b queries.Backup) {
		if b.ParentID != nil {
			return // a full backup's part: its parent speaks for it
		}
		client, _ := river.ClientFromContextSafely[pgx.Tx](ctx)
		eng := d.Alerts(client)
		var err error
		switch b.Status {
		case "failed":
			name := ""
			if b.ScheduleID != nil {
				if s, serr := d.Q.ScheduleGet(ctx, *b.ScheduleID); serr == nil {
					name = s.Name
				}
			}
			_, err = eng.Raise(ctx, alert.BackupFailed(b, name))
		case "succeeded", "warning":
			_, err = eng.Clear(ctx, alert.RuleBackupFailed, alert.BackupSubject(b))
		}
		if err != nil {
			d.Log.Error("alert evaluation after backup failed", "backup_id", b.ID, "error", err)
		}
	}
}
