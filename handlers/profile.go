package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// profile is the signed-in user's page: alert e-mail opt-in (read by the alert mailer) and password change.
func (h *Handlers) profile(w http.ResponseWriter, r *http.Request) error {
	return h.renderProfile(w, r, http.StatusOK, views.ProfileVM{})
}

func (h *Handlers) profileAlerts(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	on := r.PostFormValue("alert_opt_in") == "true"
	if _, err := h.Q.UserSetAlertOptIn(r.Context(), queries.UserSetAlertOptInParams{ID: *p.UserID, AlertOptIn: on}); err != nil {
		return err
	}
	h.audit(r, "profile.alerts", "user:"+p.Name, map[string]bool{"alert_opt_in": on})
	msg := "You will not receive alert e-mails."
	if on {
		msg = "You will receive alert e-mails."
	}
	return h.renderProfile(w, r, http.StatusOK, views.ProfileVM{Message: msg})
}

// profilePassword changes the caller's own password. Wrong current passwords are throttled per user (5, then
// one a minute): a borrowed session must not become a password-guessing oracle. The change revokes the user's
// API tokens (auth.SetPassword); other sessions end (they carry the old password's version); this one is
// re-stamped so the user stays signed in here.
func (h *Handlers) profilePassword(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	u, err := h.Q.UserGet(r.Context(), *p.UserID)
	if err != nil {
		return err
	}
	key := bucketKey("user", strconv.FormatInt(u.ID, 10))
	if h.pwLimits.blocked(key, h.Now()) {
		_ = h.auditRefusal(r, "profile.password_rate_limited", "user:"+u.Email, nil)
		return h.renderProfile(w, r, http.StatusTooManyRequests, views.ProfileVM{Error: "Too many wrong current passwords. Wait a minute and try again."})
	}
	if auth.VerifyPassword(u.PasswordHash, r.PostFormValue("current")) != nil {
		h.pwLimits.failed(key, h.Now())
		_ = h.auditRefusal(r, "profile.password_failed", "user:"+u.Email, nil)
		return h.renderProfile(w, r, http.StatusUnprocessableEntity, views.ProfileVM{Error: "The current password is not right."})
	}
	hash, err := auth.HashPassword(r.PostFormValue("new"))
	if err != nil {
		return h.renderProfile(w, r, http.StatusUnprocessableEntity, views.ProfileVM{Error: err.Error()})
	}
	revoked, err := auth.SetPassword(r.Context(), h.Pool, u.ID, hash)
	if err != nil {
		return err
	}
	if err := h.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	h.sessions.Put(r.Context(), sessPasswordVersion, passwordVersion(hash))
	_ = h.audit(r, "profile.password", "user:"+u.Email, map[string]int64{"tokens_revoked": revoked})
	msg := "Password changed."
	if revoked > 0 {
		msg += fmt.Sprintf(" Your %d API token(s) were revoked; ask an admin for new ones.", revoked)
	}
	return h.renderProfile(w, r, http.StatusOK, views.ProfileVM{Message: msg})
}

func (h *Handlers) renderProfile(w http.ResponseWriter, r *http.Request, code int, vm views.ProfileVM) error {
	u, err := h.Q.UserGet(r.Context(), *principalFrom(r.Context()).UserID)
	if err != nil {
		return err
	}
	vm.Chrome, vm.User = h.chrome(r, "Your account", ""), u
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.ProfilePage(vm).Render(r.Context(), w)
}
