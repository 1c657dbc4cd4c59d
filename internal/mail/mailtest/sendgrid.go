// Package mailtest is a SendGrid-compatible HTTP server for tests: the real sendgrid-go client is pointed at
// it through SENDGRID_API_URL, and tests inspect exactly what would have reached SendGrid.
package mailtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// SendGrid speaks SendGrid's v3 Mail Send wire format: POST /v3/mail/send with a bearer key, 202 and an
// X-Message-Id ("msg-N") on success, {"errors":[...]} otherwise. GET /v3/scopes answers a full-access key's
// scopes (how a key is checked without sending), 401 for any other key.
type SendGrid struct {
	// URL is the base URL to put in SENDGRID_API_URL.
	URL    string
	srv    *httptest.Server
	key    string
	mu     sync.Mutex
	status func(n int) int
	reqs   []Request
}

// Request is one received request: the raw body (to search for leaks) and its parsed form.
type Request struct {
	Raw    string
	Status int
	Body   struct {
		Personalizations []struct {
			To []struct{ Email string } `json:"to"`
		} `json:"personalizations"`
		From    struct{ Email string }         `json:"from"`
		Subject string                         `json:"subject"`
		Content []struct{ Type, Value string } `json:"content"`
	}
}

// NewSendGrid starts the server for the test. key is the API key it accepts; status picks the HTTP status of
// the n-th accepted request (1-based): 202 delivers, 400 refuses the sender, anything else is an error body.
func NewSendGrid(t testing.TB, key string, status func(n int) int) *SendGrid {
	f := &SendGrid{key: key, status: status}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		send, scopes := r.Method == http.MethodPost && r.URL.Path == "/v3/mail/send", r.Method == http.MethodGet && r.URL.Path == "/v3/scopes"
		if !send && !scopes {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+f.key {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null}]}`)
			return
		}
		if scopes { // what a full-access key answers; it sends nothing and is not recorded
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"scopes":["mail.send","scopes.read","user.profile.read"]}`)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var req Request
		req.Raw = string(raw)
		if err := json.Unmarshal(raw, &req.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		n := len(f.reqs) + 1
		req.Status = f.status(n)
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		switch {
		case req.Status == http.StatusAccepted:
			w.Header().Set("X-Message-Id", fmt.Sprintf("msg-%d", n))
			w.WriteHeader(http.StatusAccepted)
		case req.Status == http.StatusBadRequest:
			w.WriteHeader(req.Status)
			_, _ = io.WriteString(w, `{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]}`)
		default:
			w.WriteHeader(req.Status)
			_, _ = io.WriteString(w, `{"errors":[{"message":"internal error","field":null}]}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
	return f
}

// Requests are all requests received with the right key, in order.
func (f *SendGrid) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

// Delivered is every request answered 202: what actually reached someone's inbox.
func (f *SendGrid) Delivered() []Request {
	var out []Request
	for _, r := range f.Requests() {
		if r.Status == http.StatusAccepted {
			out = append(out, r)
		}
	}
	return out
}

// Content is the body part of the given MIME type ("text/plain", "text/html"), or "".
func (r Request) Content(typ string) string {
	for _, c := range r.Body.Content {
		if c.Type == typ {
			return c.Value
		}
	}
	return ""
}
