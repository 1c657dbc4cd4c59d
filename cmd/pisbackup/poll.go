package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pollUntilDone re-reads a row every interval until its status leaves queued/running, drawing line(row) as a
// progress line on a terminal. Reads survive ctx's cancellation so the last state is still returned; an
// interrupt returns interrupted as the error.
func pollUntilDone[T any](ctx context.Context, e *env, interval time.Duration, get func(context.Context) (T, error),
	status func(T) string, line func(T) string, interrupted string) (T, error) {
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
		}
	}
}
