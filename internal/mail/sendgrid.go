// Package mail delivers e-mail through SendGrid (or, without a key, into the development outbox) and records
// every message in the emails table. Delivery is one HTTP request per attempt; retrying is the caller's job
// (the email_send River job), so this package only says whether a failure is worth retrying.
package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/uscpis/pisbackup/internal/config"
)

// Client sends through SendGrid's v3 Mail Send API at a configurable base URL (tests point it at a local server).
type Client struct {
	key, baseURL, from string
	http               *rest.Client
}

// NewClient builds a client from configuration. The HTTP timeout keeps a hung provider from holding a worker.
func NewClient(cfg *config.Config) *Client {
	return &Client{key: cfg.SendGridAPIKey, baseURL: strings.TrimRight(cfg.SendGridAPIURL, "/"), from: cfg.DefaultFromEmail,
		http: &rest.Client{HTTPClient: &http.Client{Timeout: 30 * time.Second}}}
}

// Message is one e-mail to send. Both bodies are always sent: text for plain clients, HTML for the rest.
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
}

// SendError is a failed attempt. Retryable is true for rate limits (429), server errors (5xx) and network
// errors; any other 4xx means SendGrid refused this message and retrying cannot help.
type SendError struct {
	Status    int // 0 for network errors
	Retryable bool
	Msg       string
}

func (e *SendError) Error() string {
	if e.Status == 0 {
		return "SendGrid unreachable: " + e.Msg
	}
	return fmt.Sprintf("SendGrid answered %d: %s", e.Status, e.Msg)
}

// Address splits "Display Name <addr@host>" (or a bare address) into SendGrid's separate name and email
// fields: SendGrid's "email" field takes a bare address only and answers 400 to "Name <addr>".
func Address(s string) (*sgmail.Email, error) {
	a, err := netmail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not an e-mail address", s)
	}
	return sgmail.NewEmail(a.Name, a.Address), nil
}

// defaultFromName is the display name when DEFAULT_FROM_EMAIL is a bare address.
const defaultFromName = "USC-PIS backups"

// Send makes one delivery attempt and returns SendGrid's X-Message-Id. The library reports HTTP errors as
// a successful call with a status code, so the status is checked here. A 403 is SendGrid refusing the
// sender (not a verified Sender Identity): its error names the address to verify.
func (c *Client) Send(ctx context.Context, m Message) (string, error) {
	from, err := Address(c.from)
	if err != nil {
		return "", &SendError{Msg: "DEFAULT_FROM_EMAIL: " + err.Error()}
	}
	if from.Name == "" {
		from.Name = defaultFromName
	}
	v3 := sgmail.NewV3Mail()
	v3.SetFrom(from)
	v3.Subject = m.Subject
	p := sgmail.NewPersonalization()
	for _, to := range m.To {
		addr, err := Address(to)
		if err != nil {
			return "", &SendError{Msg: "recipient " + err.Error()}
		}
		p.AddTos(addr)
	}
	v3.AddPersonalizations(p)
	// SendGrid requires text/plain before text/html.
	v3.AddContent(sgmail.NewContent("text/plain", m.Text), sgmail.NewContent("text/html", m.HTML))
	req := sendgrid.GetRequest(c.key, "/v3/mail/send", c.baseURL)
	req.Method = rest.Post
	req.Body = sgmail.GetRequestBody(v3)
	res, err := c.http.SendWithContext(ctx, req)
	if err != nil {
		// The request's URL and headers are not part of this error text beyond the host, so no key leaks.
		return "", &SendError{Retryable: true, Msg: err.Error()}
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return http.Header(res.Headers).Get("X-Message-Id"), nil
	}
	msg := errorText(res.Body)
	if res.StatusCode == http.StatusForbidden {
		msg = fmt.Sprintf("%s %s: SendGrid refuses the sender %s; verify %s as a Sender Identity in SendGrid (Settings → Sender Authentication) or set DEFAULT_FROM_EMAIL to an address verified there",
			SenderNotVerified, msg, from.Address, from.Address)
	}
	return "", &SendError{Status: res.StatusCode, Msg: msg,
		Retryable: res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500}
}

// SenderNotVerified starts the error of a 403, so the e-mail alert can say it is a configuration problem.
const SenderNotVerified = "sender not verified:"

// errorText pulls the messages out of SendGrid's {"errors":[{"message","field"}]} body, bounded in length so
// a provider's HTML error page cannot flood the e-mail log.
func errorText(body string) string {
	var parsed struct {
		Errors []struct {
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &parsed) == nil && len(parsed.Errors) > 0 {
		var parts []string
		for _, e := range parsed.Errors {
			if e.Field != nil && *e.Field != "" {
				parts = append(parts, *e.Field+": "+e.Message)
			} else {
				parts = append(parts, e.Message)
			}
		}
		return truncate(strings.Join(parts, "; "), 500)
	}
	if strings.TrimSpace(body) == "" {
		return "(no body)"
	}
	return truncate(strings.TrimSpace(body), 500)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CheckKey asks SendGrid which permissions the API key has (GET /v3/scopes, which sends nothing) and
// returns an error unless the key is accepted and may send mail ("mail.send"). A refused key is a
// *SendError with SendGrid's status (401 for an unknown or revoked key).
func (c *Client) CheckKey(ctx context.Context) error {
	req := sendgrid.GetRequest(c.key, "/v3/scopes", c.baseURL)
	req.Method = rest.Get
	res, err := c.http.SendWithContext(ctx, req)
	if err != nil {
		return &SendError{Retryable: true, Msg: err.Error()}
	}
	if res.StatusCode != http.StatusOK {
		return &SendError{Status: res.StatusCode, Msg: errorText(res.Body), Retryable: res.StatusCode >= 500}
	}
	var body struct {
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		return &SendError{Status: res.StatusCode, Msg: "unreadable scopes answer: " + truncate(res.Body, 200)}
	}
	for _, s := range body.Scopes {
		if s == "mail.send" {
			return nil
		}
	}
	return fmt.Errorf("the SendGrid API key is valid but lacks the Mail Send permission (its scopes: %s)", truncate(strings.Join(body.Scopes, ", "), 300))
}
