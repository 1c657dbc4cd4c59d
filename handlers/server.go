package handlers

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Server limits against slow or greedy clients. A request must send its headers within ReadHeaderTimeout and
// its whole body within ReadTimeout (bodies other than uploads are at most maxBody, so 30 s allows 35 KB/s);
// an idle keep-alive connection is closed after IdleTimeout; headers are at most MaxHeaderBytes. There is no
// write timeout, so a large backup download can take as long as it needs. Uploads (admins only, after
// authentication) replace the read deadline by uploadIdle of inactivity: a multi-gigabyte upload may take
// hours, but not stall.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
	uploadIdle        = 2 * time.Minute
)

// NewServer is the http.Server `pisbackup serve` runs h with, carrying the limits above.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// progressDeadline lifts the server's read deadline for an upload and instead moves it uploadIdle ahead on
// every read, so the connection is closed only when the client stops sending. Once the whole body is in, the
// deadline is cleared: what follows is the server's work (a full_backup zip is checked and unpacked after it
// arrives), and net/http would cancel the request's context when a deadline passed during it. A client that
// hangs up still cancels it.
type progressDeadline struct {
	r  io.Reader
	rc *http.ResponseController
}

func withProgressDeadline(w http.ResponseWriter, body io.Reader) io.Reader {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(uploadIdle)) != nil {
		return body // a writer without deadlines (tests' recorders): the server's limits stand
	}
	return &progressDeadline{r: body, rc: rc}
}

func (p *progressDeadline) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	switch {
	case errors.Is(err, io.EOF):
		_ = p.rc.SetReadDeadline(time.Time{})
	case n > 0:
		_ = p.rc.SetReadDeadline(time.Now().Add(uploadIdle))
	}
	return n, err
}
