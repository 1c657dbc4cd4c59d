package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
)

// Session keys.
const (
	sessUserID          = "uid"
	sessPasswordVersion = "pwv"
)

// SessionCookie is the session cookie's name; tests and docs refer to it.
const SessionCookie = "pisbackup_session"

// newSessions keeps sessions server-side in Postgres (the sessions table), with only a hash of each session
// token stored, so a leaked database dump cannot be replayed as a login. Expired rows are removed by the
// session_cleanup job rather than a goroutine per handler.
func newSessions(d Deps) *scs.SessionManager {
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(d.Pool, 0)
	sm.HashTokenInStore = true
	sm.Lifetime = 12 * time.Hour
	sm.IdleTimeout = 2 * time.Hour
	sm.Cookie.Name = SessionCookie
	sm.Cookie.Path = "/"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = d.Cfg.SecureCookies()
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		d.Log.Error("session store failed", "path", r.URL.Path, "error", err)
		http.Error(w, "Something went wrong with your session; try again.", http.StatusInternalServerError)
	}
	return sm
}

// redirectToLogin sends an anonymous browser to the login page and back afterwards. HTMX requests get
// HX-Redirect, since a plain redirect would swap the login page into a fragment.
func (h *Handlers) redirectToLogin(w http.ResponseWriter, r *http.Request) {
	// Always carries next (for a POST, the dashboard) so a redirect caused by missing auth is recognisable.
	target := "/login?next=" + url.QueryEscape(h.pageOf(returnPath(r)))
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext accepts only a local path, so the login form cannot be used to bounce people to another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	if strings.HasPrefix(next, "/login") || strings.HasPrefix(next, "/logout") {
		return "/"
	}
	return next
}
