// Package mailtest is a SendGrid-compatible HTTP server for tests: the real sendgrid-go client is pointed at
// it through SENDGRID_API_URL, and tests inspect exactly what would have reached SendGrid.
package mailtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// VerifiedSender is the one sender the fake treats as a verified Sender Identity unless a test verifies others.
const VerifiedSender = "backups@clinic.example"

// SendGrid speaks SendGrid's v3 Mail Send wire format: POST /v3/mail/send with a bearer key, 202 and an
// X-Message-Id ("msg-N") on success, {"errors":[...]} otherwise. GET /v3/scopes answers a full-access key's
// scopes (how a key is checked without sending), 401 for any other key. It refuses what SendGrid documents it
// refuses, before the test's status function is asked: 401 for a wrong key, 400 for a body without
// personalizations, a personalization without "to", an "email" that is not a bare address (a display name
// belongs in "name"), a missing subject, missing or empty content, and 403 for a from address that is not a
// verified Sender Identity (see Verify).
type SendGrid struct {
	// URL is the base URL to put in SENDGRID_API_URL.
	URL    string
	srv    *httptest.Server
	key    string
	mu     sync.Mutex
	status func(n int) int
	reqs   []Request
	// refused are requests the fake refused for their content (400/403); they never reach status.
	refused  []Request
	verified map[string]bool
}

// Request is one received request: the raw body (to search for leaks) and its parsed form.
type Request struct {
	Raw    string
	Status int
	Body   struct {
		Personalizations []struct {
			To      []Address `json:"to"`
			Cc      []Address `json:"cc"`
			Bcc     []Address `json:"bcc"`
			Subject string    `json:"subject"`
		} `json:"personalizations"`
		From       Address                        `json:"from"`
		Subject    string                         `json:"subject"`
		Content    []struct{ Type, Value string } `json:"content"`
		TemplateID string                         `json:"template_id"`
	}
}

// Address is SendGrid's email object: a bare address and, separately, a display name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// NewSendGrid starts the server for the test. key is the API key it accepts; status picks the HTTP status of
// the n-th accepted request (1-based): 202 delivers, 400 refuses the sender, anything else is an error body.
func NewSendGrid(t testing.TB, key string, status func(n int) int) *SendGrid {
	f := &SendGrid{key: key, status: status, verified: map[string]bool{VerifiedSender: true}}
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
			refuse(w, http.StatusBadRequest, "Bad Request", "")
			return
		}
		if status, field, msg := f.check(req); status != 0 {
			f.mu.Lock()
			req.Status = status
			f.refused = append(f.refused, req)
			f.mu.Unlock()
			refuse(w, status, msg, field)
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

// Verify adds verified Sender Identities.
func (f *SendGrid) Verify(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range addrs {
		f.verified[strings.ToLower(a)] = true
	}
}

// Refused are the requests refused for their content (400) or their sender (403), in order.
func (f *SendGrid) Refused() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.refused...)
}

// check applies SendGrid's documented rules for POST /v3/mail/send; 0 means the body is acceptable.
func (f *SendGrid) check(r Request) (status int, field, msg string) {
	b := r.Body
	if len(b.Personalizations) == 0 || len(b.Personalizations) > 1000 {
		return 400, "personalizations", "The personalizations field is required and must have at least one personalization."
	}
	for i, p := range b.Personalizations {
		if len(p.To) == 0 {
			return 400, fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."
		}
		for _, list := range [][]Address{p.To, p.Cc, p.Bcc} {
			for _, a := range list {
				if !bare(a.Email) {
					return 400, fmt.Sprintf("personalizations.%d.to", i), "Does not contain a valid address."
				}
			}
		}
		if strings.TrimSpace(b.Subject) == "" && strings.TrimSpace(p.Subject) == "" && b.TemplateID == "" {
			return 400, "subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."
		}
	}
	if !bare(b.From.Email) {
		return 400, "from.email", "The from email does not contain a valid address."
	}
	if b.TemplateID == "" {
		if len(b.Content) == 0 {
			return 400, "content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block."
		}
		for i, c := range b.Content {
			if c.Type == "" || c.Value == "" {
				return 400, fmt.Sprintf("content.%d.value", i), "The content value must be a string at least one character in length."
			}
			if c.Type == "text/plain" && i != 0 {
				return 400, "content", "If present, text/plain content must be first, followed by any other content."
			}
		}
	}
	f.mu.Lock()
	ok := f.verified[strings.ToLower(b.From.Email)]
	f.mu.Unlock()
	if !ok {
		return 403, "from", "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements"
	}
	return 0, "", ""
}

// bare reports whether s is one plain address, the only form SendGrid's "email" fields take.
func bare(s string) bool {
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

func refuse(w http.ResponseWriter, status int, msg, field string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	f := "null"
	if field != "" {
		f = strconv.Quote(field)
	}
	_, _ = fmt.Fprintf(w, `{"errors":[{"message":%s,"field":%s,"help":null}]}`, strconv.Quote(msg), f)
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
