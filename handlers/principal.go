package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/auth"
)

// Principal is who is making the request: a signed-in user or an API token. The zero value is anonymous.
type Principal struct {
	UserID  *int64
	TokenID *int64
	Name    string // the user's e-mail: unique, and what the audit log shows
	Role    auth.Role
	// TokenName is set when the request came with an API token.
	TokenName string
}

// Anonymous reports whether nobody is signed in.
func (p Principal) Anonymous() bool { return p.UserID == nil }

// actor is how the audit log names the principal; a token names itself so scripts are told apart from people.
func (p Principal) actor() string {
	switch {
	case p.Anonymous():
		return "anonymous"
	case p.TokenID != nil:
		return p.Name + " (token " + p.TokenName + ")"
	}
	return p.Name
}

func principalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(keyPrincipal).(Principal)
	return p
}

func withPrincipal(r *http.Request, p Principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
}

// authorize resolves the principal (bearer token first, then the session cookie) and checks it against the
// route's minimum role: anonymous callers get 401 (pages turn that into a redirect to /login), signed-in
// callers without the role get 403.
func (h *Handlers) authorize(_ http.ResponseWriter, r *http.Request, min auth.Role) (*http.Request, error) {
	if h.metricsBearer(r) {
		return r, nil // METRICS_TOKEN admits GET /metrics only, as nobody in particular (see metrics.go)
	}
	p, err := h.identify(r)
	if err != nil {
		return r, err
	}
	r = withPrincipal(r, p)
	switch {
	case min == auth.Public:
		return r, nil
	case p.Anonymous():
		return r, Errorf(CodeUnauthorized, "sign in or send an API token (Authorization: Bearer pisb_…)")
	case !p.Role.Allows(min):
		// Refusals of signed-in callers are audited: a viewer probing admin actions is worth seeing.
		h.auditRefusal(r, "access.denied", r.Method+" "+r.URL.Path, map[string]string{"role": p.Role.String(), "needs": min.String()})
		return r, Errorf(CodeForbidden, "your role (%s) may not do this; it needs %s", p.Role, min)
	}
	return r, nil
}

// identify finds the caller. A presented but unusable token is an error (401), never a silent fallback to the
// cookie: a script with a revoked token must learn it at once.
func (h *Handlers) identify(r *http.Request) (Principal, error) {
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, tok, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "Bearer") || !auth.LooksLikeToken(strings.TrimSpace(tok)) {
			return Principal{}, Errorf(CodeUnauthorized, "Authorization must be \"Bearer pisb_…\"")
		}
		return h.tokenPrincipal(r, strings.TrimSpace(tok))
	}
	return h.sessionPrincipal(r)
}

func (h *Handlers) tokenPrincipal(r *http.Request, tok string) (Principal, error) {
	t, err := h.Q.APITokenAuthenticate(r.Context(), auth.HashToken(tok))
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, Errorf(CodeUnauthorized, "unknown API token")
	} else if err != nil {
		return Principal{}, err
	}
	if why := auth.TokenState(t.RevokedAt, t.ExpiresAt, t.UserDisabled, h.Now()); why != "" {
		return Principal{}, Errorf(CodeUnauthorized, "API token refused: %s", why)
	}
	tokenRole, err1 := auth.ParseRole(t.Role)
	userRole, err2 := auth.ParseRole(t.UserRole)
	if err := errors.Join(err1, err2); err != nil {
		return Principal{}, err
	}
	if t.LastUsedAt == nil || h.Now().Sub(*t.LastUsedAt) >= time.Minute { // the query re-checks, so races are harmless
		if err := h.Q.APITokenTouch(r.Context(), t.ID); err != nil {
			h.Log.Warn("could not record token use", "token_id", t.ID, "error", err)
		}
	}
	return Principal{UserID: &t.UserID, TokenID: &t.ID, Name: t.UserEmail, TokenName: t.Name,
		Role: auth.EffectiveRole(tokenRole, userRole)}, nil
}

// sessionPrincipal re-reads the user on every request, so disabling a user or changing their role takes
// effect at once, and a password reset ends every session opened with the old password.
func (h *Handlers) sessionPrincipal(r *http.Request) (Principal, error) {
	uid := h.sessions.GetInt64(r.Context(), sessUserID)
	if uid == 0 {
		return Principal{}, nil
	}
	u, err := h.Q.UserGet(r.Context(), uid)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, err
	}
	if err != nil || u.Disabled || h.sessions.GetString(r.Context(), sessPasswordVersion) != passwordVersion(u.PasswordHash) {
		_ = h.sessions.Destroy(r.Context())
		return Principal{}, nil
	}
	role, err := auth.ParseRole(u.Role)
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: &u.ID, Name: u.Email, Role: role}, nil
}

// passwordVersion ties a session to the password it was opened with, without keeping the hash in the session.
func passwordVersion(hash string) string {
	s := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(s[:8])
}

// isAPI selects JSON errors: our API, and River UI's own API (its page fetches JSON, not a login page).
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/admin/jobs/api/")
}
