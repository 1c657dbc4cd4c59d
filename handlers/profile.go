package handlers

import (
	"net/http"

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

// profilePassword changes the caller's own password. Other sessions end (they carry the old password's
// version); this one is re-stamped so the user stays signed in here.
func (h *Handlers) profilePassword(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	u, err := h.Q.UserGet(r.Context(), *p.UserID)
	if err != nil {
		return err
	}
	if auth.VerifyPassword(u.PasswordHash, r.PostFormValue("current")) != nil {
		h.audit(r, "profile.password_failed", "user:"+u.Email, nil)
		return h.renderProfile(w, r, http.StatusUnprocessableEntity, views.ProfileVM{Error: "The current password is not right."})
	}
	hash, err := auth.HashPassword(r.PostFormValue("new"))
	if err != nil {
		return h.renderProfile(w, r, http.StatusUnprocessableEntity, views.ProfileVM{Error: err.Error()})
	}
	if _, err := h.Q.UserSetPassword(r.Context(), queries.UserSetPasswordParams{ID: u.ID, PasswordHash: hash}); err != nil {
		return err
	}
	if err := h.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	h.sessions.Put(r.Context(), sessPasswordVersion, passwordVersion(hash))
	h.audit(r, "profile.password", "user:"+u.Email, nil)
	return h.renderProfile(w, r, http.StatusOK, views.ProfileVM{Message: "Password changed."})
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
