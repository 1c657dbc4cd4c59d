package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// pollUntilDone re-reads a row every interval, and at once whenever wake fires, until its status leaves
// queued/running, drawing line(row) as a progress line on a terminal. Reads survive ctx's cancellation so the
// last state is still returned; an interrupt returns interrupted as the error.
func pollUntilDone[T any](ctx context.Context, e *env, interval time.Duration, wake <-chan struct{},
	get func(context.Context) (T, error), status func(T) string, line func(T) string, interrupted string) (T, error) {
	tty := isTerminal(e.stderr)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		row, err := get(context.WithoutCancel(ctx))
		if err != nil {
			return row, err
		}
		if s := status(row); s != "queued" && s != "running" {
			if tty {
				fmt.Fprint(e.stderr, "\r\033[K")
			}
			return row, nil
		}
		if tty {
			fmt.Fprintf(e.stderr, "\r\033[K%s", line(row))
		}
		select {
		case <-ctx.Done():
			return row, errors.New(interrupted)
		case <-t.C:
		case <-wake:
		}
	}
}

// jobsEnded signals whenever a job of this process's client stops running (done, failed, cancelled or put
// back), so a command waiting on its own job reads the final row the moment the job ends instead of up to a
// polling interval later. stop ends the subscription.
func jobsEnded(client *river.Client[pgx.Tx]) (wake <-chan struct{}, stop func()) {
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobCancelled, river.EventKindJobSnoozed)
	ch := make(chan struct{}, 1)
	go func() {
		for range events {
			select {
			case ch <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}()
	return ch, cancel
}
