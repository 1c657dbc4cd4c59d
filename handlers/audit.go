package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/uscpis/pisbackup/queries"
)

// Audit row bounds: what a request can make the audit log store, whatever it sends.
const (
	maxAuditText    = 512  // bytes of actor, target and user agent
	maxAuditValue   = 512  // bytes of each string inside details
	maxAuditDetails = 4096 // bytes of the details JSON
)

// errNotAudited refuses an action whose audit row could not be written: nothing unrecorded happens.
var errNotAudited = &Error{Code: CodeUnavailable, Message: "the audit log could not record this action, so it was not done; try again"}

// audit records who did what to which target, from where, and returns an error when the row could not be
// written. Actions that hand data out (downloads, exports) call it first and stop on an error; every text is
// sanitized and bounded (see auditText, auditDetails) so nothing a client sends can make the insert fail or
// the row large.
func (h *Handlers) audit(r *http.Request, action, target string, details any) error {
	p := principalFrom(r.Context())
	_, err := h.Q.AuditInsert(r.Context(), queries.AuditInsertParams{
		ActorUserID: p.UserID, ActorTokenID: p.TokenID, Actor: auditText(p.actor(), maxAuditText), Action: action,
		Target: auditText(target, maxAuditText), Ip: h.clientIP(r), UserAgent: auditText(r.UserAgent(), maxAuditText),
		Details: auditDetails(details),
	})
	if err != nil {
		h.Log.Error("audit event NOT recorded", "action", action, "error", err)
		return errNotAudited
	}
	return nil
}

// clientIP is the request's client address per TRUSTED_PROXIES (see config.TrustedProxies.ClientIP): the TCP
// peer unless that is a configured proxy. Always a parsed IP address, so it is short and printable.
func (h *Handlers) clientIP(r *http.Request) string {
	return h.Cfg.TrustedProxies.ClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// auditText makes s storable and readable: invalid UTF-8 becomes U+FFFD, control characters (NUL, which
// PostgreSQL text refuses, and line breaks that would forge lines in a log view) become U+FFFD, and the result
// is cut at a character boundary to at most max bytes, ending in "…" when cut.
func auditText(s string, max int) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(clean) <= max {
		return clean
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(clean[cut]) {
		cut--
	}
	return clean[:cut] + "…"
}

// auditDetails is details as bounded JSON: every string (keys included) passes through auditText with
// maxAuditValue, and a document still over maxAuditDetails is replaced by {"truncated": true, "excerpt": …}.
func auditDetails(details any) json.RawMessage {
	if details == nil {
		return nil
	}
	raw, err := json.Marshal(details)
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"unrecordable": err.Error()})
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	out, err := json.Marshal(sanitizeJSON(v))
	if err != nil || len(out) > maxAuditDetails {
		out, _ = json.Marshal(map[string]any{"truncated": true, "excerpt": auditText(string(out), maxAuditDetails/2)})
	}
	return out
}

func sanitizeJSON(v any) any {
	switch t := v.(type) {
	case string:
		return auditText(t, maxAuditValue)
	case []any:
		for i := range t {
			t[i] = sanitizeJSON(t[i])
		}
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[auditText(k, maxAuditValue)] = sanitizeJSON(x)
		}
		return m
	}
	return v
}
