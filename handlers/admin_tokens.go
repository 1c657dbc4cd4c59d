package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) adminTokens(w http.ResponseWriter, r *http.Request) error {
	return h.renderTokens(w, r, http.StatusOK, views.TokensVM{Form: views.TokenForm{Expires: "90d", Role: auth.Viewer.String()}})
}

// adminTokenCreate issues a token and shows it once; afterwards only its prefix is ever displayed.
func (h *Handlers) adminTokenCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	f := views.TokenForm{UserID: r.PostForm.Get("user_id"), Name: r.PostForm.Get("name"),
		Role: r.PostForm.Get("role"), Expires: r.PostForm.Get("expires")}
	vm := views.TokensVM{Form: f}
	fail := func(field, msg string) error {
		vm.Field, vm.Error = field, msg
		return h.renderTokens(w, r, http.StatusUnprocessableEntity, vm)
	}
	uid, err := strconv.ParseInt(f.UserID, 10, 64)
	if err != nil {
		return fail("user_id", "choose a user")
	}
	u, err := h.Q.UserGet(r.Context(), uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return fail("user_id", "no such user")
	} else if err != nil {
		return err
	}
	role := auth.Viewer // the least role unless one is chosen: a token is a script's, and most scripts only read
	if f.Role != "" {
		if role, err = auth.ParseRole(f.Role); err != nil {
			return fail("role", err.Error())
		}
	}
	if userRole, _ := auth.ParseRole(u.Role); role != auth.Public {
		if err := auth.CheckTokenRole(role, userRole); err != nil {
			return fail("role", err.Error())
		}
	}
	ttl, err := auth.ParseExpiry(f.Expires)
	if err != nil {
		return fail("expires", err.Error())
	}
	token, row, err := auth.CreateToken(r.Context(), h.Q, u, f.Name, role, ttl, h.Now())
	if err != nil {
		return fail("name", err.Error())
	}
	h.audit(r, "token.create", "token:"+strconv.FormatInt(row.ID, 10),
		map[string]any{"name": row.Name, "user": u.Email, "role": row.Role, "prefix": row.Prefix, "expires_at": row.ExpiresAt})
	return h.renderTokens(w, r, http.StatusOK, views.TokensVM{Form: views.TokenForm{Expires: "90d"},
		Secret: &views.Secret{Label: "Token “" + row.Name + "” for " + u.Email, Value: token}})
}

func (h *Handlers) adminTokenRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	t, err := h.Q.APITokenGet(r.Context(), id)
	if err != nil {
		return NotFound(err, "token")
	}
	if t.RevokedAt == nil {
		if _, err := h.Q.APITokenRevoke(r.Context(), id); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		h.audit(r, "token.revoke", "token:"+strconv.FormatInt(id, 10), map[string]string{"name": t.Name, "prefix": t.Prefix})
	}
	http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
	return nil
}

func (h *Handlers) renderTokens(w http.ResponseWriter, r *http.Request, code int, vm views.TokensVM) error {
	var err error
	if vm.Tokens, err = h.Q.APITokenList(r.Context()); err != nil {
		return err
	}
	if vm.Users, err = h.Q.UserList(r.Context()); err != nil {
		return err
	}
	vm.Chrome = h.chrome(r, "API tokens", "admin")
	noStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.TokensPage(vm).Render(r.Context(), w)
}
