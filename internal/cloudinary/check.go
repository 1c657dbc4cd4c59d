package cloudinary

import (
	"context"
	"sync"
	"time"
)

// pingTTL is how long a connection check's answer is reused: the dashboard shows it on every load, and
// Cloudinary's Admin API is rate-limited.
const pingTTL = 5 * time.Minute

type pingState struct {
	at      time.Time
	err     error
	checked bool
	running bool
}

var (
	pingMu    sync.Mutex
	pingCache = map[string]*pingState{}
)

// CachedPing returns the last Admin API ping result for rawURL without waiting: checked is false until the
// first background ping has answered. A stale or missing answer starts a new ping in the background, so a
// page never waits for Cloudinary.
func CachedPing(rawURL string) (checked bool, err error) {
	pingMu.Lock()
	defer pingMu.Unlock()
	st := pingCache[rawURL]
	if st == nil {
		st = &pingState{}
		pingCache[rawURL] = st
	}
	if !st.running && time.Since(st.at) > pingTTL {
		st.running = true
		go func() {
			err := ping(rawURL)
			pingMu.Lock()
			st.at, st.err, st.checked, st.running = time.Now(), err, true, false
			pingMu.Unlock()
		}()
	}
	return st.checked, st.err
}

func ping(rawURL string) error {
	c, err := New(rawURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.Ping(ctx)
}
