package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// badLogin is the one message for an unknown e-mail, a wrong password and a disabled account alike.
const badLogin = "That e-mail and password do not match an active account."

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request) error {
	if !principalFrom(r.Context()).Anonymous() {
		http.Redirect(w, r, h.pageOf(safeNext(r.URL.Query().Get("next"))), http.StatusSeeOther)
		return nil
	}
	return h.renderLogin(w, r, http.StatusOK, views.LoginVM{Next: r.URL.Query().Get("next")})
}

// maxEmailLen is the longest e-mail address accepted anywhere (RFC 5321's 256-byte path minus the brackets).
const maxEmailLen = 254

// login checks the password, throttling failures per address and per address + account (never per account
// alone, see ratelimit.go), and audits every attempt.
func (h *Handlers) login(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	vm := views.LoginVM{Email: email, Next: r.PostForm.Get("next")}
	ip := h.clientIP(r)
	if len(email) > maxEmailLen || len(vm.Next) > 2048 {
		// Refused at the edge: never looked up, remembered or echoed back; it still costs the address a guess.
		h.limits.addr.failed(bucketKey(guesser(ip)), h.Now())
		_ = h.auditRefusal(r, "login.failed", "user:"+email, map[string]any{"reason": "e-mail or next too long", "bytes": len(email)})
		vm.Email, vm.Next, vm.Error = "", "", fmt.Sprintf("An e-mail address has at most %d characters.", maxEmailLen)
		return h.renderLogin(w, r, http.StatusUnprocessableEntity, vm)
	}
	if h.limits.blocked(ip, email, h.Now()) {
		_ = h.auditRefusal(r, "login.rate_limited", "user:"+email, nil)
		vm.Error = "Too many failed sign-in attempts from your address. Wait a minute and try again."
		return h.renderLogin(w, r, http.StatusTooManyRequests, vm)
	}
	// An e-mail PostgreSQL cannot compare (invalid UTF-8, NUL) names no account: it is never sent to the query.
	u, err := queries.User{}, pgx.ErrNoRows
	if utf8.ValidString(email) && !strings.ContainsRune(email, 0) {
		u, err = h.Q.UserGetByEmail(r.Context(), email)
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	reason := ""
	switch {
	case err != nil:
		_ = auth.VerifyPassword("", password) // same work as a real check
		reason = "unknown e-mail"
	case auth.VerifyPassword(u.PasswordHash, password) != nil:
		reason = "wrong password"
	case u.Disabled:
		reason = "account disabled"
	}
	if reason != "" {
		h.limits.failed(ip, email, h.Now())
		_ = h.auditRefusal(r, "login.failed", "user:"+email, map[string]string{"reason": reason})
		vm.Error = badLogin
		return h.renderLogin(w, r, http.StatusUnprocessableEntity, vm)
	}
	// A new session token on every sign-in defeats session fixation.
	if err := h.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	h.sessions.Put(r.Context(), sessUserID, u.ID)
	h.sessions.Put(r.Context(), sessPasswordVersion, passwordVersion(u.PasswordHash))
	if err := h.Q.UserTouchLogin(r.Context(), u.ID); err != nil {
		return err
	}
	role, _ := auth.ParseRole(u.Role)
	r = withPrincipal(r, Principal{UserID: &u.ID, Name: u.Email, Role: role})
	h.audit(r, "login.succeeded", "user:"+u.Email, nil)
	http.Redirect(w, r, h.pageOf(safeNext(vm.Next)), http.StatusSeeOther)
	return nil
}

func (h *Handlers) logout(w http.ResponseWriter, r *http.Request) error {
	h.audit(r, "logout", "user:"+principalFrom(r.Context()).Name, nil)
	if err := h.sessions.Destroy(r.Context()); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func (h *Handlers) renderLogin(w http.ResponseWriter, r *http.Request, code int, vm views.LoginVM) error {
	vm.Chrome = h.chrome(r, "Sign in", "")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.LoginPage(vm).Render(r.Context(), w)
}

// crossOriginDenied answers requests Go's cross-origin protection refused, in the caller's language, and
// records the attempt: a cross-site form post at a backup tool is worth knowing about.
func (h *Handlers) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	h.Log.Warn("refused a cross-origin request", "method", r.Method, "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	h.renderError(w, r, Errorf(CodeForbidden, "cross-site request refused: submit the form from pisbackup itself"))
}
