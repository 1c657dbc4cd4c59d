package handlers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
)

// The server production runs has read, header and idle limits; uploads are the one exception, bounded by
// inactivity instead.
func TestServerTimeoutsCutSlowClientsButNotUploads(t *testing.T) {
	t.Parallel()
	def := NewServer(nil)
	require.True(t, def.ReadHeaderTimeout > 0 && def.ReadTimeout > 0 && def.ReadTimeout <= time.Minute && def.IdleTimeout > 0)
	require.Equal(t, 64<<10, def.MaxHeaderBytes)

	e := newAuthEnv(t, false)
	h := e.srv.Config.Handler
	s := httptest.NewUnstartedServer(h)
	s.Config = NewServer(h)
	s.Config.ReadHeaderTimeout, s.Config.ReadTimeout, s.Config.IdleTimeout = time.Second, time.Second, time.Second
	s.Start()
	t.Cleanup(s.Close)
	addr := strings.TrimPrefix(s.URL, "http://")

	// closedWithin sends the preamble, then one byte every 100 ms, and reports how long the server kept the
	// connection before answering or closing it.
	closedWithin := func(preamble string) time.Duration {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		start := time.Now()
		_, err = io.WriteString(c, preamble)
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, c) // returns when the server closes
			close(done)
		}()
		for time.Since(start) < 10*time.Second {
			select {
			case <-done:
				return time.Since(start)
			case <-time.After(100 * time.Millisecond):
				_, _ = c.Write([]byte("a"))
			}
		}
		return time.Since(start)
	}
	slowHeaders := closedWithin("GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	require.Less(t, slowHeaders, 3*time.Second, "headers sent slowly")
	slowBody := closedWithin("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nemail=")
	require.Less(t, slowBody, 3*time.Second, "a form body sent slowly")

	// An idle keep-alive connection is closed.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	require.Less(t, time.Since(start), 3*time.Second, "idle connection closed")

	// An upload that keeps sending for longer than ReadTimeout goes through.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = io.WriteString(zw, `[{"model": "auth.user", "pk": 1, "fields": {"username": "a"}}]`)
	require.NoError(t, zw.Close())
	body, ctype := legacyUploadBody(t, gz.Bytes())
	pr, pw := io.Pipe()
	go func() {
		b := body.Bytes()
		chunk := len(b)/25 + 1
		for len(b) > 0 {
			n := min(chunk, len(b))
			_, _ = pw.Write(b[:n])
			b = b[n:]
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	req, err := http.NewRequest("POST", s.URL+"/api/v1/backups/upload", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+e.tokens[auth.Admin])
	start = time.Now()
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Greater(t, time.Since(start), 2*time.Second)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(out))
}
