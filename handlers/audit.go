package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
// written. In a state-changing request it completes the row auditStart wrote before the handler ran (so the
// action was on record before it happened, whatever happens to this call); elsewhere (downloads, exports,
// refusals) it inserts a row, and actions that hand data out call it first and stop on an error. Every text is
// sanitized and bounded (see auditText, auditDetails) so nothing a client sends can make the write fail or the
// row large.
func (h *Handlers) audit(r *http.Request, action, target string, details any) error {
	return h.auditOutcome(r, "done", action, target, details)
}

// auditRefusal is audit for a request refused with a reason worth keeping (a protected restore target, a
// wrong password, a role too weak): the row's outcome is "failed", never "done", so the audit log does not show
// a refusal as something that happened.
func (h *Handlers) auditRefusal(r *http.Request, action, target string, details any) error {
	return h.auditOutcome(r, "failed", action, target, details)
}

// auditChanged completes the request's started row as "done", keeping its route as the action, for a handler
// whose change is audited elsewhere under its own name (jobs' recovery.apply and recovery.undo rows, written the
// same way for the CLI): without it the guard would close the row as "no_change" although the request changed
// the clinic database. Outside a state-changing request it does nothing.
func (h *Handlers) auditChanged(r *http.Request, details any) {
	if row, ok := r.Context().Value(keyAuditRow).(*auditRow); ok && !row.recorded {
		_ = h.auditOutcome(r, "done", row.route, r.URL.Path, details)
	}
}

func (h *Handlers) auditOutcome(r *http.Request, outcome, action, target string, details any) error {
	p := principalFrom(r.Context())
	if row, ok := r.Context().Value(keyAuditRow).(*auditRow); ok && !row.recorded {
		n, err := h.Q.AuditRecord(context.WithoutCancel(r.Context()), queries.AuditRecordParams{ID: row.id, Action: action, Outcome: outcome,
			Target: auditText(target, maxAuditText), Details: auditDetails(details),
			Actor: auditText(p.actor(), maxAuditText), ActorUserID: p.UserID, ActorTokenID: p.TokenID})
		if err == nil && n == 1 {
			row.recorded = true
			return nil
		}
		// the started row stays as the record that the request came; try a row of its own for the details
	}
	_, err := h.Q.AuditInsert(r.Context(), queries.AuditInsertParams{
		ActorUserID: p.UserID, ActorTokenID: p.TokenID, Actor: auditText(p.actor(), maxAuditText), Action: action,
		Target: auditText(target, maxAuditText), Ip: h.clientIP(r), UserAgent: auditText(r.UserAgent(), maxAuditText),
		Details: auditDetails(details), Outcome: &outcome,
	})
	if err != nil {
		h.Log.Error("audit event NOT recorded", "action", action, "error", err)
		return errNotAudited
	}
	if row, ok := r.Context().Value(keyAuditRow).(*auditRow); ok {
		// the details are on record in a row of their own: the started row must not be closed as no_change
		row.recorded = row.recorded || h.Q.AuditEnd(context.WithoutCancel(r.Context()), queries.AuditEndParams{ID: row.id, Outcome: outcome}) == nil
	}
	return nil
}

// auditRow is the write-ahead audit row of one state-changing request (see auditStart).
type auditRow struct {
	id       int64
	route    string // the route pattern the row was started with
	recorded bool   // the handler's audit call completed it
}

// changesState reports whether a request with this method may change state: everything but GET, HEAD and
// OPTIONS (the route table gives GET routes no side effects beyond their own audited downloads).
func changesState(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// auditStart writes the audit row of a state-changing request before its handler runs: who (the principal,
// or "anonymous" for a sign-in), the route and the path, from where, with outcome "started". When the row
// cannot be written the request is refused with errNotAudited and the handler never runs: an action that
// cannot be put on record does not happen, whichever handler it is and whether or not that handler
// remembers to audit. auditEnd closes the row when the handler did not record it.
func (h *Handlers) auditStart(r *http.Request, route string) (*http.Request, *auditRow, error) {
	p := principalFrom(r.Context())
	id, err := h.Q.AuditStart(r.Context(), queries.AuditStartParams{
		ActorUserID: p.UserID, ActorTokenID: p.TokenID, Actor: auditText(p.actor(), maxAuditText), Action: auditText(route, maxAuditText),
		Target: auditText(r.URL.Path, maxAuditText), Ip: h.clientIP(r), UserAgent: auditText(r.UserAgent(), maxAuditText),
	})
	if err != nil {
		h.Log.Error("audit event NOT recorded; request refused", "route", route, "error", err)
		return r, nil, errNotAudited
	}
	row := &auditRow{id: id, route: auditText(route, maxAuditText)}
	return r.WithContext(context.WithValue(r.Context(), keyAuditRow, row)), row, nil
}

// auditEnd closes a started row its handler did not record: "failed" with the error's public message when
// the handler returned one, else "no_change" (a form shown again with field errors, a preview).
func (h *Handlers) auditEnd(r *http.Request, row *auditRow, err error) {
	if row.recorded {
		return
	}
	outcome, details := "no_change", json.RawMessage(nil)
	if err != nil {
		outcome, details = "failed", auditDetails(map[string]string{"error": publicMessage(err)})
	}
	if e := h.Q.AuditEnd(context.WithoutCancel(r.Context()), queries.AuditEndParams{ID: row.id, Outcome: outcome, Details: details}); e != nil {
		h.Log.Error("audit event left as started", "id", row.id, "error", e)
	}
}

// publicMessage is what a refusal told the caller: an *Error's message, never an internal error's text.
func publicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error (see the server log)"
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
