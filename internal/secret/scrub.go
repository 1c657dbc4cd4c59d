// Package secret holds pisbackup's one redaction function. Every error text that may echo a configured secret
// (a database password, an API key, a token) passes through Scrub before it reaches a row, a page, an e-mail,
// the API or a log line.
package secret

import (
	"net/url"
	"sort"
	"strings"
)

// Mask is what every secret is replaced with, so a reader sees that something was there.
const Mask = "xxxxx"

// Scrub replaces every occurrence of each non-empty secret in s with Mask, also in the spellings a URL,
// a query string or a libpq keyword/value string would use for it (percent-encoded, quoted with backslashes).
// Longer secrets are replaced first, so one secret inside another cannot leave a tail behind. Secrets of any
// length are scrubbed: a short password garbles more text, which is the safe side.
func Scrub(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	var all []string
	for _, v := range secrets {
		all = append(all, Spellings(v)...)
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, v := range all {
		s = strings.ReplaceAll(s, v, Mask)
	}
	return s
}

// Spellings is a secret as written raw and in every escaped form a tool might echo: percent-encoded for a URL
// path, user info or query (RFC 3986 and form encoding) and backslash-escaped for a libpq keyword/value string.
func Spellings(v string) []string {
	if v == "" {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(v)
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	add(strings.TrimPrefix(url.UserPassword("", v).String(), ":"))
	add(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v))
	// Lower-case percent escapes are as valid as upper-case ones.
	for _, s := range append([]string(nil), out...) {
		if strings.Contains(s, "%") {
			add(lowerEscapes(s))
		}
	}
	return out
}

func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// Set is the secrets of one configuration, collected once and applied to every outgoing text.
type Set struct{ values []string }

// NewSet keeps the non-empty values; nil and empty sets scrub nothing.
func NewSet(values ...string) *Set {
	s := &Set{}
	s.Add(values...)
	return s
}

// Add includes more secrets (nil-safe no-op on a nil Set is not provided: build the Set first).
func (s *Set) Add(values ...string) {
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
}

// Scrub is Scrub with this set's secrets; a nil Set returns text unchanged.
func (s *Set) Scrub(text string) string {
	if s == nil {
		return text
	}
	return Scrub(text, s.values...)
}

// Error is err's text scrubbed; a nil err gives "". Safe on a nil Set.
func (s *Set) Error(err error) string {
	if err == nil {
		return ""
	}
	return s.Scrub(err.Error())
}

// Wrap is err with its text scrubbed; errors.Is and errors.As still see err. Nil stays nil.
func (s *Set) Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbed{err: err, text: s.Error(err)}
}

type scrubbed struct {
	err  error
	text string
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.err }

// Values returns a copy of the secrets, for tests that assert none of them leaked.
func (s *Set) Values() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.values...)
}
