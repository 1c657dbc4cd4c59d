package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Queues. Backups get their own queue so a long dump never starves e-mail or monitoring.
const (
	QueueBackups = "backups"
	QueueVerify  = "verify"
	QueueEmail   = "email"
)

// Workers registers every job kind's worker.
func Workers(d *Deps) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &BackupDatabaseWorker{D: d})
	river.AddWorker(w, &ReconcileWorker{D: d})
	for _, reg := range extraWorkers {
		reg(w, d)
	}
	return w
}

// extraWorkers lets each job file register itself from an init func, so adding a kind touches one file.
var extraWorkers []func(*river.Workers, *Deps)

// extraPeriodic likewise collects periodic jobs.
var extraPeriodic []func(*Deps) []*river.PeriodicJob

// Mode says what a client does.
type Mode int

const (
	// InsertOnly clients enqueue but never work (the web process with --no-workers).
	InsertOnly Mode = iota
	// Worker clients work every queue and run periodic jobs (serve, worker).
	Worker
	// Private clients work one private queue only (the CLI running its own job in-process).
	Private
)

// NewClient builds the River client for mode. queue names the private queue in Private mode.
func NewClient(d *Deps, mode Mode, queue string) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{
		Logger:  d.Log,
		Workers: Workers(d),
		// Every job holds a lease while it runs (lease.go): the reconciler ends a dead process's work within
		// a few minutes. River's own rescuer stays as a backstop only. scrubErrors, outermost, keeps
		// configured secrets out of the error text River stores and logs.
		Middleware:           []rivertype.Middleware{&scrubErrors{d: d}, &leaseMiddleware{d: d}},
		RescueStuckJobsAfter: RescueAfter,
		JobTimeout:           DefaultJobTimeout,
		FetchCooldown:        50 * time.Millisecond,
		FetchPollInterval:    250 * time.Millisecond,
	}
	switch mode {
	case Worker:
		cfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 10},
			QueueBackups:       {MaxWorkers: 3},
			QueueVerify:        {MaxWorkers: 2},
			QueueEmail:         {MaxWorkers: 4},
		}
		cfg.PeriodicJobs = periodicJobs(d)
	case Private:
		cfg.Queues = map[string]river.QueueConfig{queue: {MaxWorkers: 2}}
		if isPrivateQueue(queue) {
			// Held before anything is queued there: a process killed right after queuing still leaves a lease
			// that goes stale, and the reconciler ends its job.
			if err := holdQueue(d, queue); err != nil {
				return nil, err
			}
		}
		// A CLI run must not take River's leadership from a worker: the leader alone enqueues periodic jobs
		// (the scheduler, the reconciler), so a long create-backup holding it would pause every schedule. When
		// no worker leads (cron running monitor-backups, say), the CLI may lead so its own retries progress.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		alive, err := d.Q.RiverLeaderAlive(ctx)
		cancel()
		cfg.LeaderElectionDisabled = err == nil && alive
	}
	return river.NewClient(riverpgxv5.New(d.Pool), cfg)
}

// scrubErrors removes configured secrets from every error a worker returns: River stores its text in the job
// row (River UI shows it) and logs it.
type scrubErrors struct {
	river.MiddlewareDefaults
	d *Deps
}

func (m *scrubErrors) Work(ctx context.Context, _ *rivertype.JobRow, doInner func(context.Context) error) error {
	return m.d.Cfg.ScrubWrap(doInner(ctx))
}

func periodicJobs(d *Deps) []*river.PeriodicJob {
	jobs := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(reconcileEvery(d)),
			func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "reconcile"}),
	}
	for _, p := range extraPeriodic {
		jobs = append(jobs, p(d)...)
	}
	return jobs
}

// reconcileEvery is how often the reconciler looks for dead work: half the heartbeat timeout, between a second
// and a minute, so dead work is ended at most 1.5 × BACKUP_HEARTBEAT_TIMEOUT after its last heartbeat.
func reconcileEvery(d *Deps) time.Duration {
	return min(max(d.staleAfter()/2, time.Second), time.Minute)
}
