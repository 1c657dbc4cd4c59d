package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TokenPrefix starts every API token, so a leaked one is recognisable (and secret scanners can match it).
const TokenPrefix = "pisb_"

// NewToken returns a fresh API token, its SHA-256 (the only thing stored) and a short display prefix that
// identifies it in lists without revealing it.
func NewToken() (token string, sum []byte, display string) {
	token = TokenPrefix + rand.Text() + rand.Text() // 260 random bits
	return token, HashToken(token), token[:len(TokenPrefix)+6]
}

// HashToken is how a presented token is looked up: tokens are random, so a plain SHA-256 suffices.
func HashToken(token string) []byte {
	s := sha256.Sum256([]byte(token))
	return s[:]
}

// LooksLikeToken filters out garbage before touching the database.
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) > len(TokenPrefix)+20 && len(s) < 200
}

// TokenState says why a stored token may not be used; "" means it may.
func TokenState(revokedAt, expiresAt *time.Time, userDisabled bool, now time.Time) string {
	switch {
	case revokedAt != nil:
		return "revoked"
	case expiresAt != nil && !now.Before(*expiresAt):
		return "expired"
	case userDisabled:
		return "user disabled"
	}
	return ""
}

// EffectiveRole is what a token may do: its own role, capped by its user's current role, so demoting a user
// demotes their tokens too.
func EffectiveRole(tokenRole, userRole Role) Role { return min(tokenRole, userRole) }

// CheckTokenRole refuses a token role above its user's role.
func CheckTokenRole(tokenRole, userRole Role) error {
	if tokenRole > userRole {
		return fmt.Errorf("a token's role (%s) cannot exceed its user's role (%s)", tokenRole, userRole)
	}
	return nil
}

// ParseExpiry reads "90d", "12h" or "0"/"" (never expires) into a duration.
func ParseExpiry(s string) (time.Duration, error) {
	if s == "" || s == "0" || s == "never" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 3650 {
			return 0, fmt.Errorf("expiry %q: want days between 1 and 3650, e.g. 90d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expiry %q: want e.g. 90d, 12h or never", s)
	}
	return d, nil
}
