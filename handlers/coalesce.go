package handlers

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// coalescedReadTimeout bounds one shared read; it runs detached from any single caller's request.
const coalescedReadTimeout = 30 * time.Second

// readCoalescer lets concurrent requests for the same read share one database round. Every open dashboard
// and every monitoring script asks the same questions; on two cores, fifty of them each running the
// dashboard's queries spent the CPU on PostgreSQL round trips instead of answering (make bench: p99 of
// 50 ms+ against a 25 ms target).
//
// Unlike a plain singleflight, a caller never joins a read that had already started when it arrived: it
// joins (or starts) the next one. So every answer reflects the database as it was after the request came
// in, and a script that creates a backup and then lists backups always sees it.
type readCoalescer struct {
	mu    sync.Mutex
	byKey map[string]*flights
}

type flights struct {
	running *flight // started; callers arriving now wait for pending instead
	pending *flight // not started yet; starts when running ends
}

type flight struct {
	run  func(context.Context) (any, error)
	done chan struct{}
	val  any
	err  error
}

// do returns fn's result from a read that started after this call began, shared with every other caller
// of the same key waiting at the same time. fn runs detached from ctx (a leaving caller does not cancel the
// others' answer); ctx only stops this caller's wait.
func (c *readCoalescer) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	if c.byKey == nil {
		c.byKey = map[string]*flights{}
	}
	fs := c.byKey[key]
	if fs == nil {
		fs = &flights{}
		c.byKey[key] = fs
	}
	f := fs.pending
	if f == nil {
		f = &flight{run: fn, done: make(chan struct{})}
		if fs.running == nil {
			fs.running = f
			go c.fly(key, fs, f)
		} else {
			fs.pending = f
		}
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fly runs f, then starts the flight that queued up behind it, if any.
func (c *readCoalescer) fly(key string, fs *flights, f *flight) {
	for f != nil {
		f.val, f.err = runFlight(f.run)
		close(f.done)
		c.mu.Lock()
		f, fs.pending = fs.pending, nil
		fs.running = f
		if f == nil {
			delete(c.byKey, key)
		}
		c.mu.Unlock()
	}
}

// runFlight runs one shared read; a panic becomes the error of every caller instead of ending the server.
func runFlight(run func(context.Context) (any, error)) (val any, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), coalescedReadTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("shared read panicked: %v", p)
		}
	}()
	return run(ctx)
}

// coalesced is do with a typed result. fn must depend on nothing but key: callers joining a flight get the
// result of the first joiner's fn.
func coalesced[T any](ctx context.Context, c *readCoalescer, key string, fn func(context.Context) (T, error)) (T, error) {
	v, err := c.do(ctx, key, func(ctx context.Context) (any, error) { return fn(ctx) })
	t, _ := v.(T)
	return t, err
}
