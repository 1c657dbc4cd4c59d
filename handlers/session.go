package handlers

import (
	"net/http"
	"net/url"
	"path"
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

// safeNext turns the login form's "next" into a same-origin path, or "/". It is parsed with net/url (which
// refuses control characters such as the tab browsers strip, the trick behind "/\t/evil.example/"), must have
// no scheme, host or user, and a path that starts with exactly one "/" ("///evil" parses as a path but
// browsers read it as a host). The location is rebuilt from the parsed path and query, so a backslash
// ("/\evil", which browsers read as "//evil") goes out escaped as %5C. The sign-in pages themselves map to "/".
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	switch first, _, _ := strings.Cut(strings.TrimPrefix(path.Clean(u.Path), "/"), "/"); first {
	case "login", "logout":
		return "/"
	}
	local := url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	return local.String()
}
