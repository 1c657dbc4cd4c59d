package preflight

import (
	"context"
	"sync"
	"time"
)

// Monitor keeps the latest Report for the dashboard and /api/v1/health, so they show exactly what
// `pisbackup preflight` would print without probing every service on each request.
type Monitor struct {
	env Env
	ttl time.Duration
	mu  sync.Mutex
	// last is nil until the first run finished; running is closed when the current run ends.
	last    *Report
	running chan struct{}
}

// NewMonitor checks env again whenever its last report is older than ttl (5 minutes when 0).
func NewMonitor(env Env, ttl time.Duration) *Monitor {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &Monitor{env: env, ttl: ttl}
}

// Env is the environment the monitor checks, for running one group on demand (RunGroup).
func (m *Monitor) Env() Env { return m.env }

// Latest returns the last report without waiting; ok is false until the first run has finished. A missing or
// stale report starts a run in the background.
func (m *Monitor) Latest() (r Report, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refreshLocked()
	if m.last == nil {
		return Report{}, false
	}
	return *m.last, true
}

// Get returns a report no older than the monitor's ttl, waiting for a run when needed, until ctx ends.
func (m *Monitor) Get(ctx context.Context) (Report, error) {
	m.mu.Lock()
	wait := m.refreshLocked()
	m.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return Report{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return *m.last, nil
}

// refreshLocked starts a run when the report is missing or stale and returns the channel closed when the
// run that makes it current ends (nil when the report is current).
func (m *Monitor) refreshLocked() <-chan struct{} {
	if m.last != nil && time.Since(m.last.CheckedAt) < m.ttl {
		return nil
	}
	if m.running == nil {
		done := make(chan struct{})
		m.running = done
		go func() {
			r := Run(context.Background(), m.env)
			m.mu.Lock()
			m.last, m.running = &r, nil
			m.mu.Unlock()
			close(done)
		}()
	}
	return m.running
}
