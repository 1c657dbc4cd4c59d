package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// SessionCleanupArgs is the "session_cleanup" job: it deletes expired sign-in sessions. The web process does
// not run scs's own cleanup goroutine, so several web dynos do not all sweep the same table.
type SessionCleanupArgs struct{}

// Kind names the job in River.
func (SessionCleanupArgs) Kind() string { return "session_cleanup" }

// InsertOpts keeps one pending sweep at a time.
func (SessionCleanupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, UniqueOpts: river.UniqueOpts{ByPeriod: 30 * time.Minute}}
}

// SessionCleanupWorker runs the sweep.
type SessionCleanupWorker struct {
	river.WorkerDefaults[SessionCleanupArgs]
	D *Deps
}

// Work deletes expired sessions.
func (w *SessionCleanupWorker) Work(ctx context.Context, _ *river.Job[SessionCleanupArgs]) error {
	n, err := w.D.Q.SessionDeleteExpired(ctx)
	if err == nil && n > 0 {
		w.D.Log.Info("removed expired sessions", "count", n)
	}
	return err
}

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) {
		river.AddWorker(w, &SessionCleanupWorker{D: d})
	})
	extraPeriodic = append(extraPeriodic, func(*Deps) []*river.PeriodicJob {
		return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return SessionCleanupArgs{}, nil },
			&river.PeriodicJobOpts{ID: "session_cleanup"})}
	})
}
