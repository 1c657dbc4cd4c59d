package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) adminUsers(w http.ResponseWriter, r *http.Request) error {
	return h.renderUsers(w, r, http.StatusOK, views.UsersVM{Form: views.UserForm{Role: "viewer"}})
}

// adminUserCreate adds a user; an empty password field means "generate one", shown once on the next page.
func (h *Handlers) adminUserCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	f := views.UserForm{Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name"), Role: r.PostForm.Get("role")}
	vm := views.UsersVM{Form: f}
	fail := func(field, msg string) error {
		vm.Field, vm.Error = field, msg
		return h.renderUsers(w, r, http.StatusUnprocessableEntity, vm)
	}
	role, err := auth.ParseRole(f.Role)
	if err != nil {
		return fail("role", err.Error())
	}
	password, generated := r.PostForm.Get("password"), false
	if password == "" {
		password, generated = auth.GeneratePassword(), true
	}
	u, err := auth.CreateUser(r.Context(), h.Q, f.Email, f.Name, role, password)
	if err != nil {
		if errors.Is(err, auth.ErrEmailTaken) {
			return fail("email", err.Error())
		}
		if _, perr := auth.NormalizeEmail(f.Email); perr != nil {
			return fail("email", perr.Error())
		}
		if perr := auth.CheckPasswordPolicy(password); perr != nil {
			return fail("password", perr.Error())
		}
		return err
	}
	h.audit(r, "user.create", "user:"+u.Email, map[string]any{"role": u.Role, "generated_password": generated})
	vm = views.UsersVM{Form: views.UserForm{Role: "viewer"}}
	if generated {
		vm.Secret = &views.Secret{Label: "Password for " + u.Email, Value: password}
	}
	return h.renderUsers(w, r, http.StatusOK, vm)
}

func (h *Handlers) adminUserRole(w http.ResponseWriter, r *http.Request) error {
	u, err := h.userFromPath(r)
	if err != nil {
		return err
	}
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err != nil {
		return FieldError("role", "%s", err.Error())
	}
	if u.Role == "admin" && role != auth.Admin {
		if err := h.keepAnAdmin(r, u); err != nil {
			return err
		}
	}
	if _, err := h.Q.UserSetRole(r.Context(), queries.UserSetRoleParams{ID: u.ID, Role: role.String()}); err != nil {
		return err
	}
	h.audit(r, "user.role", "user:"+u.Email, map[string]string{"from": u.Role, "to": role.String()})
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	return nil
}

// adminUserDisable disables or re-enables a user. Disabling ends their sessions and refuses their tokens on
// the next request (both are checked per request).
func (h *Handlers) adminUserDisable(w http.ResponseWriter, r *http.Request) error {
	u, err := h.userFromPath(r)
	if err != nil {
		return err
	}
	disable := r.PostFormValue("disabled") != "false"
	if disable && u.Role == "admin" && !u.Disabled {
		if err := h.keepAnAdmin(r, u); err != nil {
			return err
		}
	}
	if _, err := h.Q.UserSetDisabled(r.Context(), queries.UserSetDisabledParams{ID: u.ID, Disabled: disable}); err != nil {
		return err
	}
	action := "user.enable"
	if disable {
		action = "user.disable"
	}
	h.audit(r, action, "user:"+u.Email, nil)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	return nil
}

// adminUserPassword sets a generated password, shown once; sessions opened with the old one end.
func (h *Handlers) adminUserPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := h.userFromPath(r)
	if err != nil {
		return err
	}
	password := auth.GeneratePassword()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	revoked, err := auth.SetPassword(r.Context(), h.Pool, u.ID, hash)
	if err != nil {
		return err
	}
	_ = h.audit(r, "user.password_reset", "user:"+u.Email, map[string]int64{"tokens_revoked": revoked})
	label := "New password for " + u.Email
	if revoked > 0 {
		label += fmt.Sprintf(" (their %d API token(s) were revoked)", revoked)
	}
	return h.renderUsers(w, r, http.StatusOK, views.UsersVM{Form: views.UserForm{Role: "viewer"},
		Secret: &views.Secret{Label: label, Value: password}})
}

// keepAnAdmin refuses to demote or disable the last active admin: nobody could manage users afterwards.
func (h *Handlers) keepAnAdmin(r *http.Request, u queries.User) error {
	n, err := h.Q.UserCountActiveAdmins(r.Context())
	if err != nil {
		return err
	}
	if n <= 1 {
		return Errorf(CodeConflict, "%s is the last active admin; make someone else admin first", u.Email)
	}
	return nil
}

func (h *Handlers) userFromPath(r *http.Request) (queries.User, error) {
	id, err := pathID(r)
	if err != nil {
		return queries.User{}, err
	}
	u, err := h.Q.UserGet(r.Context(), id)
	return u, NotFound(err, "user")
}

func (h *Handlers) renderUsers(w http.ResponseWriter, r *http.Request, code int, vm views.UsersVM) error {
	users, err := h.Q.UserList(r.Context())
	if err != nil {
		return err
	}
	vm.Chrome, vm.Users = h.chrome(r, "Users", "admin"), users
	if me := principalFrom(r.Context()).UserID; me != nil {
		vm.Me = *me
	}
	noStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.UsersPage(vm).Render(r.Context(), w)
}

// noStore keeps pages that may show a secret out of browser and proxy caches.
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }
