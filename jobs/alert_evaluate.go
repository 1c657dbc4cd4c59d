package jobs

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/recovery"
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
// so "worker not running" is left out of what fires (but stays in scope, so an open one resolves).
func (w *AlertEvaluateWorker) Work(ctx context.Context, _ *river.Job[AlertEvaluateArgs]) error {
	client, _ := river.ClientFromContextSafely[pgx.Tx](ctx)
	_, _, err := EvaluateAlerts(ctx, w.D, client, true)
	return err
}

// EvaluateAlerts computes the recoverability state once and applies it: an alert is open exactly while the
// state shows its problem. monitor-backups --send-alerts calls it without a worker (inWorker false).
func EvaluateAlerts(ctx context.Context, d *Deps, client *river.Client[pgx.Tx], inWorker bool) (recovery.State, alert.Outcome, error) {
	now := d.now()
	if ids, err := d.Q.EmailFailOrphaned(ctx, now.Add(-10*time.Minute)); err != nil {
		return recovery.State{}, alert.Outcome{}, err
	} else if len(ids) > 0 {
		d.Log.Warn("e-mails whose delivery job ended without sending were marked failed", "email_ids", ids)
	}
	var st recovery.State
	eng := d.Alerts(client)
	eng.InWorker = inWorker
	out, err := eng.Evaluate(ctx, func(ctx context.Context, q *queries.Queries) (alert.Scope, []alert.Condition, error) {
		var err error
		if st, err = recovery.Evaluate(ctx, recovery.Inputs{Q: q, Cfg: d.Cfg, Now: now}); err != nil {
			return nil, nil, err
		}
		if inWorker {
			st = st.Without(recovery.RuleWorkerNotRunning)
		}
		names, err := alert.ScheduleNames(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		return alert.ForRules(alert.StateRules...), alert.FromState(st, names), nil
	})
	return st, out, err
}

// Alerts is the alert engine for these dependencies; e-mail delivery jobs are inserted with client.
func (d *Deps) Alerts(client *river.Client[pgx.Tx]) *alert.Engine {
	return &alert.Engine{Pool: d.Pool, Cfg: d.Cfg, Log: d.Log, Now: d.now, Deliver: EmailDeliverer(client)}
}

// AlertOnBackup is the AfterBackup hook that opens "backup failed" the moment a backup fails and resolves it
// (with its recovery e-mail) the moment the next good backup of the same kind succeeds, whatever started
// either, without waiting for the periodic evaluation. Uploads never come through here.
func AlertOnBackup(d *Deps) func(ctx context.Context, b queries.Backup) {
	return func(ctx context.Context, b queries.Backup) {
		if b.ParentID != nil || b.Origin == "upload" {
			return // a full backup's part: its parent speaks for it
		}
		client, _ := river.ClientFromContextSafely[pgx.Tx](ctx)
		eng := d.Alerts(client)
		eng.InWorker = true
		var err error
		switch b.Status {
		case "failed":
			name := ""
			if b.ScheduleID != nil {
				if s, serr := d.Q.ScheduleGet(ctx, *b.ScheduleID); serr == nil {
					name = s.Name
				}
			}
			_, err = eng.Raise(ctx, alert.FromProblem(recovery.BackupFailed(b, name), name))
		case "succeeded", "warning":
			_, err = eng.Clear(ctx, alert.RuleBackupFailed, "kind:"+b.Kind)
		}
		if err != nil {
			d.Log.Error("alert evaluation after backup failed", "backup_id", b.ID, "error", err)
		}
	}
}

// alertOnVerification opens or resolves the "verification failed" alert of v's backup the moment v ends: open
// while the backup's newest verification of some level failed, resolved once it is re-verified good.
func alertOnVerification(ctx context.Context, d *Deps, v queries.Verification) {
	client, _ := river.ClientFromContextSafely[pgx.Tx](ctx)
	eng := d.Alerts(client)
	eng.InWorker = true
	subject := "backup:" + strconv.FormatInt(v.BackupID, 10)
	_, err := eng.Evaluate(ctx, func(ctx context.Context, q *queries.Queries) (alert.Scope, []alert.Condition, error) {
		p, err := recovery.VerificationProblem(ctx, q, v.BackupID)
		if err != nil || p == nil {
			return alert.ForSubject(alert.RuleVerifyFailed, subject), nil, err
		}
		return alert.ForSubject(alert.RuleVerifyFailed, subject), []alert.Condition{alert.FromProblem(*p, "")}, nil
	})
	if err != nil {
		d.Log.Error("alert evaluation after verification failed", "verification_id", v.ID, "error", err)
	}
}
