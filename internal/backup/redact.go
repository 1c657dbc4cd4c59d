package backup

import (
	"net/url"
	"strings"
)

// RedactError renders err with the source URL's password removed, wherever a driver or pg_dump echoed it.
func RedactError(err error, sourceURL string) string {
	return RedactText(err.Error(), sourceURL)
}

// RedactText removes the password of sourceURL (raw and URL-escaped) from s.
func RedactText(s, sourceURL string) string {
	u, perr := url.Parse(sourceURL)
	if perr != nil || u.User == nil {
		return s
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return s
	}
	s = strings.ReplaceAll(s, pw, "xxxxx")
	return strings.ReplaceAll(s, url.QueryEscape(pw), "xxxxx")
}

// tail keeps the last n bytes written, so pg_dump's stderr can be reported without holding all of it.
type tail struct {
	buf []byte
	n   int
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return strings.TrimSpace(string(t.buf)) }
