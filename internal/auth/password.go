package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Password rules. bcrypt reads at most 72 bytes; refusing longer passwords beats silently ignoring the rest.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 72
	bcryptCost     = 12
)

// hashCost is bcryptCost except in test binaries (UseFastHashesForTests).
var hashCost = bcryptCost

// UseFastHashesForTests makes new hashes with bcrypt's minimum cost (4, ~1 ms instead of ~250 ms). Only the
// test harness (internal/testdb) calls it: the suite signs users in hundreds of times, and at cost 12 that
// alone was minutes of CPU on a 2-core machine. Verification follows the cost stored in each hash, so nothing
// else changes.
func UseFastHashesForTests() { hashCost = bcrypt.MinCost }

// ErrWrongPassword means the password does not match the hash.
var ErrWrongPassword = errors.New("wrong password")

// dummyHash is compared against when the e-mail is unknown, so both failures take the same time and an
// attacker cannot tell which e-mails have accounts. It is made on first use, not at start-up: every CLI
// command (create-backup included) would otherwise pay a cost-12 bcrypt (~0.25 s) before doing anything.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("pisbackup-no-such-user"), hashCost)
	return h
})

// WarmUp makes the dummy hash in the background, so that even the first login for an unknown e-mail takes
// as long as one for a known e-mail. The server calls it at start-up; commands that never log anyone in
// do not pay for it.
func WarmUp() { go dummyHash() }

// CheckPasswordPolicy explains what is wrong with a chosen password, or returns nil.
func CheckPasswordPolicy(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("password must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// HashPassword hashes a password that passed CheckPasswordPolicy.
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordPolicy(pw); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), hashCost)
	return string(h), err
}

// VerifyPassword compares pw with hash in constant time. An empty hash (unknown user) still does the work.
func VerifyPassword(hash, pw string) error {
	h := []byte(hash)
	if hash == "" {
		h = dummyHash()
	}
	if len(pw) > MaxPasswordLen {
		pw = pw[:MaxPasswordLen]
	}
	if err := bcrypt.CompareHashAndPassword(h, []byte(pw)); err != nil || hash == "" {
		return ErrWrongPassword
	}
	return nil
}

// GeneratePassword makes a 26-character base32 password (130 random bits): no look-alike punctuation to
// mistype when it is read off a terminal.
func GeneratePassword() string { return rand.Text() }
