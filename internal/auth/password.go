package auth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"strings"
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

// commonPasswordsGz is Django's CommonPasswordValidator list (django/contrib/auth/common-passwords.txt.gz from
// Django 3.2, BSD licence: 19,726 passwords, lower case), so pisbackup refuses what the clinic app refuses.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("auth: embedded common-passwords list is corrupt: " + err.Error())
	}
	m := make(map[string]struct{}, 20000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		m[strings.TrimSpace(sc.Text())] = struct{}{}
	}
	if sc.Err() != nil || len(m) < 10000 {
		panic("auth: embedded common-passwords list is corrupt")
	}
	return m
})

// IsCommonPassword reports whether pw (trimmed, compared case-insensitively, as Django does) is on the list.
func IsCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(strings.TrimSpace(pw))]
	return ok
}

// CheckPasswordPolicy explains what is wrong with a chosen password, or returns nil: 10 characters at least,
// 72 bytes at most (bcrypt's limit), not on the common-passwords list, and not one character repeated.
func CheckPasswordPolicy(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("password must be at most %d bytes", MaxPasswordLen)
	case IsCommonPassword(pw):
		return errors.New("this password is too common (it is on the list of the 20,000 most used passwords); choose another")
	case distinctRunes(pw) < 4:
		return errors.New("this password repeats too few different characters; choose another")
	}
	return nil
}

func distinctRunes(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
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
