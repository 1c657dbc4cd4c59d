package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// Error codes, mapped to HTTP statuses in one place.
const (
	CodeInvalid      = "invalid"      // 422: a value is wrong (Field names it)
	CodeBadRequest   = "bad_request"  // 400: malformed JSON, unknown fields, wrong types
	CodeUnauthorized = "unauthorized" // 401
	CodeForbidden    = "forbidden"    // 403
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409
	CodeTooLarge     = "too_large"    // 413
	CodeRateLimited  = "rate_limited" // 429
	CodeUnavailable  = "unavailable"  // 503: a dependency (the audit log, pisbackup's own database) could not be reached; nothing was done
	CodeInternal     = "internal"     // 500: details are logged, never shown
)

// Error is the one error type handlers return.
type Error struct {
	Code    string
	Message string
	Field   string
	Err     error // the cause, logged for internal errors only
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError is a 422 naming the bad field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound maps pgx.ErrNoRows to not_found and wraps anything else as internal: the one place that turns a
// missing row into a 404.
func NotFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return Errorf(CodeNotFound, "%s not found", what)
	}
	return err
}

func status(code string) int {
	switch code {
	case CodeInvalid:
		return http.StatusUnprocessableEntity
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// asError normalises any error into *Error, logging internal ones with the request id.
func (h *Handlers) asError(r *http.Request, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Code != CodeInternal {
			return e
		}
	}
	ref := requestID(r.Context())
	if dbconn.Unreachable(err) {
		h.Log.Warn("catalog database unreachable", "ref", ref, "method", r.Method, "path", r.URL.Path, "error", err)
		return &Error{Code: CodeUnavailable, Message: CatalogUnreachable}
	}
	h.Log.Error("request failed", "ref", ref, "method", r.Method, "path", r.URL.Path, "error", err)
	return &Error{Code: CodeInternal, Message: fmt.Sprintf("Something went wrong (ref %s).", ref)}
}

// CatalogUnreachable is what every signed-in page, API call and the login page say while pisbackup's own
// database is down: plainly that, and what it does and does not mean.
const CatalogUnreachable = "pisbackup's catalog database is unreachable, so this page cannot be shown and nobody can sign in. " +
	"Backups already in storage are not affected; backups and checks that finish meanwhile are recorded once it is back. " +
	"Check DATABASE_URL's server. /healthz stays up; /readyz reports the outage."

// renderError answers in the request's language: JSON for the API, a toast for HTMX, a page otherwise.
func (h *Handlers) renderError(w http.ResponseWriter, r *http.Request, err error) {
	e := h.asError(r, err)
	switch {
	case e.Code == CodeUnauthorized && !isAPI(r):
		h.redirectToLogin(w, r)
	case isAPI(r):
		if e.Code == CodeUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pisbackup"`)
		}
		writeJSONError(w, e)
	case isHTMX(r):
		w.Header().Set("HX-Reswap", "none")
		setToast(w, e.Message, "error")
		w.WriteHeader(status(e.Code))
	default:
		h.renderErrorPage(w, r, e)
	}
}

func writeJSONError(w http.ResponseWriter, e *Error) {
	body := map[string]any{"code": e.Code, "message": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	writeJSON(w, status(e.Code), map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// setToast asks the page (via HX-Trigger) to show a toast.
func setToast(w http.ResponseWriter, msg, level string) {
	b, _ := json.Marshal(map[string]any{"toast": map[string]string{"message": msg, "level": level}})
	w.Header().Set("HX-Trigger", string(b))
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
	keyAuditRow
)

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}
