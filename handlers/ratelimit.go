package handlers

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login throttling. Only failures spend tokens, so a person who types the right password is never slowed;
// a guesser gets 5 tries per account (then one a minute) and 20 per address (then one every 10 s).
var (
	perAccount = limitSpec{every: time.Minute, burst: 5}
	perIP      = limitSpec{every: 10 * time.Second, burst: 20}
)

type limitSpec struct {
	every time.Duration
	burst int
}

// loginLimits holds one token bucket per client address and per account (the typed e-mail, known or not, so
// throttling reveals nothing about which accounts exist).
type loginLimits struct {
	mu      sync.Mutex
	ip, acc map[string]*rate.Limiter
}

func newLoginLimits() *loginLimits {
	return &loginLimits{ip: map[string]*rate.Limiter{}, acc: map[string]*rate.Limiter{}}
}

// blocked reports whether either bucket is empty, without spending anything.
func (l *loginLimits) blocked(ip, email string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	return l.get(l.ip, ip, perIP).TokensAt(now) < 1 || l.get(l.acc, strings.ToLower(email), perAccount).TokensAt(now) < 1
}

// failed spends one token from each bucket.
func (l *loginLimits) failed(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.get(l.ip, ip, perIP).Allow()
	l.get(l.acc, strings.ToLower(email), perAccount).Allow()
}

func (l *loginLimits) get(m map[string]*rate.Limiter, key string, s limitSpec) *rate.Limiter {
	if lim, ok := m[key]; ok {
		return lim
	}
	if len(m) > 10000 {
		// Forget buckets that have refilled; they hold no information.
		for k, lim := range m {
			if lim.Tokens() >= float64(s.burst) {
				delete(m, k)
			}
		}
	}
	lim := rate.NewLimiter(rate.Every(s.every), s.burst)
	m[key] = lim
	return lim
}
