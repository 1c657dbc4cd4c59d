package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Guess throttling. Only failures spend tokens, so a person who types the right password is never slowed.
// Buckets are keyed by what the guesser controls least: the client address (per TRUSTED_PROXIES), and the
// address together with the account. There is no bucket for the account alone, so nobody can lock the real
// owner (or the only admin) out of their correct password by failing on purpose from elsewhere.
var (
	perAddress        = limitSpec{every: 10 * time.Second, burst: 20} // 20 guesses, then one every 10 s
	perAddressAccount = limitSpec{every: time.Minute, burst: 5}       // 5 per account from one address, then one a minute
	perUserPassword   = limitSpec{every: time.Minute, burst: 5}       // wrong current passwords on /profile/password
)

// maxBuckets bounds each bucket set's memory: keys are fixed-size hashes, so a set holds at most this many
// entries of about 200 bytes, whatever requests arrive.
const maxBuckets = 10000

type limitSpec struct {
	every time.Duration
	burst int
}

// buckets is one token bucket per key, for one limitSpec.
type buckets struct {
	spec limitSpec
	mu   sync.Mutex
	m    map[string]*rate.Limiter
}

func newBuckets(s limitSpec) *buckets { return &buckets{spec: s, m: map[string]*rate.Limiter{}} }

// key reduces any parts (an address, a typed e-mail of any length) to a fixed-size, case-insensitive key.
func bucketKey(parts ...string) string {
	s := sha256.Sum256([]byte(strings.ToLower(strings.Join(parts, "\x00"))))
	return hex.EncodeToString(s[:12])
}

// blocked reports whether key's bucket is empty at now, without spending anything or remembering key.
func (b *buckets) blocked(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim, ok := b.m[key]
	return ok && lim.TokensAt(now) < 1
}

// failed spends one token from key's bucket at now.
func (b *buckets) failed(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim, ok := b.m[key]
	if !ok {
		if len(b.m) >= maxBuckets {
			b.evict(now)
		}
		lim = rate.NewLimiter(rate.Every(b.spec.every), b.spec.burst)
		b.m[key] = lim
	}
	lim.AllowN(now, 1)
}

// evict forgets buckets that have refilled (they hold no information) and, if that is not enough, arbitrary
// ones down to 90 % of maxBuckets: losing some throttle state beats growing without bound.
func (b *buckets) evict(now time.Time) {
	for k, lim := range b.m {
		if lim.TokensAt(now) >= float64(b.spec.burst) {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < maxBuckets*9/10 {
			break
		}
		delete(b.m, k)
	}
}

func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// loginLimits are the sign-in throttles: per address and per address + account.
type loginLimits struct {
	addr, pair *buckets
}

func newLoginLimits() *loginLimits {
	return &loginLimits{addr: newBuckets(perAddress), pair: newBuckets(perAddressAccount)}
}

// blocked reports whether either of the caller's buckets is empty.
func (l *loginLimits) blocked(ip, email string, now time.Time) bool {
	ip = guesser(ip)
	return l.addr.blocked(bucketKey(ip), now) || l.pair.blocked(bucketKey(ip, email), now)
}

// failed spends one token from each of the caller's buckets.
func (l *loginLimits) failed(ip, email string, now time.Time) {
	ip = guesser(ip)
	l.addr.failed(bucketKey(ip), now)
	l.pair.failed(bucketKey(ip, email), now)
}

// guesser is the part of a client address one guesser controls: an IPv4 address as it is, an IPv6 address's
// /64 (RFC 4291 interface identifiers: every IPv6 host may use any of the 2^64 addresses of its subnet, and
// privacy extensions rotate them on their own). Anything else is used as it is.
func guesser(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Unmap().Is6() {
		return ip
	}
	p, _ := a.Unmap().WithZone("").Prefix(64)
	return p.String()
}
