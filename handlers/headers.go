package handlers

import (
	"errors"
	"net/http"
	"strings"
)

// contentSecurityPolicy is what every page satisfies: scripts only from our own files (no inline script, no
// inline event handlers, no eval; htmx is configured with allowEval false), styles only from our stylesheet,
// forms posting only to us, and no framing by anyone (clickjacking).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// relaxedStyles are the paths whose pages need inline styles, still with no inline script: the development
// outbox shows e-mails (which carry inline styles for mail clients) in a sandboxed iframe that inherits the
// page's policy, and River's job UI (a React app) sets style attributes.
var relaxedStyles = []string{"/outbox", "/admin/jobs/"}

func cspFor(path string) string {
	for _, p := range relaxedStyles {
		if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return strings.Replace(contentSecurityPolicy, "style-src 'self'", "style-src 'self' 'unsafe-inline'", 1)
		}
	}
	return contentSecurityPolicy
}

// securityHeaders sets the response headers every answer carries. Everything but /static/ (content-hashed,
// cached for a year by its own handler) is Cache-Control: no-store, since pages, API answers, downloads and
// audit.csv all hold data that must not sit in a shared or browser cache. HSTS is sent when BASE_URL is https.
func securityHeaders(https bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", cspFor(r.URL.Path))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if https {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds every request body except uploads (which have UPLOAD_MAX_BYTES): forms and API requests are
// small, and a bound here is what keeps a 2 MB "e-mail" from ever being parsed.
const maxBody = maxJSONBody

// formError turns a form parsing failure into 413 (body over maxBody) or 400.
func formError(err error) error {
	var me *http.MaxBytesError
	if errors.As(err, &me) {
		return Errorf(CodeTooLarge, "the form is larger than %d bytes", maxBody)
	}
	return Errorf(CodeBadRequest, "malformed form")
}
