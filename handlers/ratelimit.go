package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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

// buckets is one token bucket per key, for one limitSpec, at most maxBuckets of them: past that the bucket
// whose key failed least recently is forgotten (hashicorp/golang-lru), so a flood of new keys pushes out old,
// quiet guessers first and never the ones guessing now.
type buckets struct {
	spec limitSpec
	c    *lru.Cache[string, *rate.Limiter]
}

func newBuckets(s limitSpec) *buckets {
	c, err := lru.New[string, *rate.Limiter](maxBuckets)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &buckets{spec: s, c: c}
}

// key reduces any parts (an address, a typed e-mail of any length) to a fixed-size, case-insensitive key.
func bucketKey(parts ...string) string {
	s := sha256.Sum256([]byte(strings.ToLower(strings.Join(parts, "\x00"))))
	return hex.EncodeToString(s[:12])
}

// blocked reports whether key's bucket is empty at now, without spending anything, remembering key or making
// it more recent.
func (b *buckets) blocked(key string, now time.Time) bool {
	lim, ok := b.c.Peek(key)
	return ok && lim.TokensAt(now) < 1
}

// failed spends one token from key's bucket at now, making key the most recent.
func (b *buckets) failed(key string, now time.Time) {
	lim, ok := b.c.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Every(b.spec.every), b.spec.burst)
		if prev, found, _ := b.c.PeekOrAdd(key, lim); found {
			lim = prev // another request added it a moment ago
		}
	}
	lim.AllowN(now, 1)
}

func (b *buckets) len() int { return b.c.Len() }

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
