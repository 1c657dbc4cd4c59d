package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
)

// publicRoutes are the only routes anyone may reach without signing in. A route left at the zero value
// (auth.Public) by accident fails TestEveryRouteDeclaresARole.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /login": true, "POST /login": true, "GET /api/v1/status": true,
}

var anyParam = regexp.MustCompile(`\{[^}]*\}`)

// routeRequest turns a pattern into a concrete request: method (GET when the pattern has none) and a path
// with every parameter replaced by "1".
func routeRequest(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = strings.ReplaceAll(path, "{$}", "")
	return method, anyParam.ReplaceAllString(path, "1")
}

func TestEveryRouteDeclaresARole(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, rt := range (&Handlers{}).Routes() {
		require.False(t, seen[rt.Pattern], "route %q is listed twice", rt.Pattern)
		seen[rt.Pattern] = true
		require.Contains(t, []auth.Role{auth.Public, auth.Viewer, auth.Operator, auth.Admin}, rt.Role, rt.Pattern)
		if rt.Role == auth.Public {
			require.True(t, publicRoutes[rt.Pattern], "route %q is public (Role unset?): set its role, or add it to publicRoutes if anonymous access is intended", rt.Pattern)
		}
		require.NotNil(t, rt.Handle, rt.Pattern)
	}
	for p := range publicRoutes {
		require.True(t, seen[p], "public route %q is no longer in the table", p)
	}
}

// TestRouteRoles walks EVERY route in the table as anonymous, viewer, operator and admin. Expectations come
// from the table itself, so routes added later are covered without touching this test.
func TestRouteRoles(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	callers := []auth.Role{auth.Public, auth.Viewer, auth.Operator, auth.Admin} // Public = anonymous
	for _, rt := range (&Handlers{}).Routes() {
		method, path := routeRequest(rt.Pattern)
		api := strings.HasPrefix(path, "/api/")
		body := ""
		if method != http.MethodGet && method != http.MethodHead {
			body = map[bool]string{true: "{}", false: "x=1"}[api]
		}
		for _, who := range callers {
			resp, text := e.req(t, nil, method, path, e.tokens[who], body)
			what := rt.Pattern + " as " + map[bool]string{true: "anonymous", false: who.String()}[who == auth.Public]
			switch {
			case rt.Role == auth.Public:
				require.NotContains(t, []int{401, 403}, resp.StatusCode, what)
				require.NotContains(t, resp.Header.Get("Location"), "/login?", what)
			case who == auth.Public && api:
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, what)
				requireJSONError(t, text, "unauthorized", what)
			case who == auth.Public:
				require.Equal(t, http.StatusSeeOther, resp.StatusCode, what)
				require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login?next="), what)
			case !who.Allows(rt.Role):
				require.Equal(t, http.StatusForbidden, resp.StatusCode, what)
				if api {
					requireJSONError(t, text, "forbidden", what)
				}
			default:
				require.NotContains(t, []int{401, 403}, resp.StatusCode, what+": "+text)
				require.NotContains(t, resp.Header.Get("Location"), "/login?next=", what)
			}
			if rt.Pattern == "POST /admin/users/{id}/password" && who == auth.Admin {
				// Resetting user #1's (the admin's) password revoked their tokens (issue 15): issue a new one.
				tok, _, err := auth.CreateToken(context.Background(), e.d.Q, e.users[auth.Admin], "admin script 2", auth.Public, 0, time.Now())
				require.NoError(t, err)
				e.tokens[auth.Admin] = tok
			}
		}
	}
}

func requireJSONError(t *testing.T, body, code, what string) {
	t.Helper()
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &v), what+": "+body)
	require.Equal(t, code, v.Error.Code, what)
	require.NotEmpty(t, v.Error.Message, what)
}
