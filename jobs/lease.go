package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/uscpis/pisbackup/queries"
)

// One liveness mechanism for every kind of work (issue 17).
//
// Every job a process works holds a lease (a job_leases row) that the process renews every second on the
// database's clock; a CLI process also holds a lease on its private queue from before it queues its job. The
// reconciler (reconcile.go) finalises River jobs whose lease went stale — their process died — as discarded
// with the reason, which releases their unique key at once instead of after River's rescuer (hours), and then
// ends the rows those jobs held: backups, verifications (dropping a drill's scratch database), restores
// (dropping a partial target pisbackup created), media migrations; a dead retention pass is queued again.
//
// The heartbeat also carries operator requests the other way: a cancel request on the lease (CancelWork) makes
// the holder cancel the job's context with a *CancelledError naming who asked, within a second.

// BeatEvery is how often a holder renews its leases.
const BeatEvery = time.Second

// holder names this process in leases, so an operator can tell which process died.
var holder = func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}()

// PrivateQueue names this process's private queue: a CLI command queues its job there and works it itself.
// The reconciler treats queues with this prefix as held by one process (see JobsAbandoned).
func PrivateQueue() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("cli_%s_%d", host, os.Getpid())
}

func isPrivateQueue(q string) bool { return strings.HasPrefix(q, "cli_") }

// CancelledError is the cause of a job's context when an operator cancelled it through pisbackup (page, API or
// CLI): By names who asked.
type CancelledError struct{ By string }

func (e *CancelledError) Error() string { return "cancelled by " + e.By }

// cancelReason says who cancelled the work behind ctx, when it was cancelled on purpose: pisbackup's own
// cancel, or River's (its job UI), which does not say who.
func cancelReason(ctx context.Context) (string, bool) {
	var ce *CancelledError
	cause := context.Cause(ctx)
	switch {
	case errors.As(cause, &ce):
		return ce.Error(), true
	case errors.Is(cause, river.ErrJobCancelledRemotely):
		return "cancelled by an operator in the job UI", true
	}
	return "", false
}

// work is the live state of one job, shared between the job and its heartbeat.
type work struct {
	mu      sync.Mutex
	waiting string
}

type workKey struct{}

// setWaiting records what the job behind ctx waits for ("" when it no longer waits); the next heartbeat
// publishes it on the lease, where its page reads it.
func setWaiting(ctx context.Context, what string) {
	if w, ok := ctx.Value(workKey{}).(*work); ok {
		w.mu.Lock()
		w.waiting = what
		w.mu.Unlock()
	}
}

func (w *work) waitingFor() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting
}

// leaseMiddleware holds a lease around every job this client works.
type leaseMiddleware struct {
	river.MiddlewareDefaults
	d *Deps
}

var _ rivertype.WorkerMiddleware = (*leaseMiddleware)(nil)

// Work takes the job's lease, renews it every BeatEvery while the job runs (cancelling the job when an operator
// asks), and releases it afterwards. A lease that cannot be taken (catalog briefly down) is not fatal: the
// heartbeat takes it at its next beat, and the reconciler allows a job without a lease the same grace.
func (m *leaseMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	d := m.d
	acquire := func(c context.Context) error {
		return d.Q.LeaseAcquireJob(c, queries.LeaseAcquireJobParams{JobID: job.ID, Kind: job.Kind, Holder: holder})
	}
	held := acquire(ctx) == nil
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &work{}
	wctx = context.WithValue(wctx, workKey{}, w)
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
			case <-t.C:
			}
			if !held {
				held = acquire(ctx) == nil
				continue
			}
			c, err := d.Q.LeaseBeatJob(ctx, queries.LeaseBeatJobParams{JobID: job.ID, WaitingFor: w.waitingFor()})
			if err == nil && c.CancelRequestedAt != nil {
				by := c.CancelRequestedBy
				if by == "" {
					by = "an operator"
				}
				cancel(&CancelledError{By: by})
			}
		}
	}()
	err := doInner(wctx)
	close(stop)
	<-finished
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	_ = d.Q.LeaseReleaseJob(rctx, job.ID)
	return err
}

// holdQueue takes this process's lease on its private queue before anything is queued there and renews it
// while the process lives (until its pool closes), so a CLI process killed at any point leaves a lease that
// goes stale and the reconciler ends what it left queued. The reconciler deletes the lease once it is stale.
func holdQueue(d *Deps, queue string) error {
	ctx := context.Background()
	if err := d.Q.LeaseAcquireQueue(ctx, queries.LeaseAcquireQueueParams{Queue: queue, Holder: holder}); err != nil {
		return fmt.Errorf("hold private queue: %w", err)
	}
	go func() {
		t := time.NewTicker(BeatEvery)
		defer t.Stop()
		for range t.C {
			if _, err := d.Q.LeaseBeatQueue(ctx, queue); err != nil && strings.Contains(err.Error(), "closed pool") {
				return
			}
		}
	}()
	return nil
}
