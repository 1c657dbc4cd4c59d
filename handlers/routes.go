package handlers

import (
	"net/http"

	"github.com/uscpis/pisbackup/internal/auth"
)

// Route is one line of the route table: the ServeMux pattern, the minimum role, and the action. The role
// enforcement, the role test and openapi.json's x-min-role all read this same table.
type Route struct {
	Pattern string // "METHOD /path/{param}"
	Role    auth.Role
	Handle  func(http.ResponseWriter, *http.Request) error
	// Summary documents API operations in openapi.json.
	Summary string
}

// Routes lists EVERY route. A reader finds any URL here.
func (h *Handlers) Routes() []Route {
	return []Route{
		// Probes: no auth, for Heroku and uptime monitors.
		{Pattern: "GET /healthz", Role: auth.Public, Handle: h.healthz},
		{Pattern: "GET /readyz", Role: auth.Public, Handle: h.readyz},

		// Pages.
		{Pattern: "GET /{$}", Role: auth.Viewer, Handle: h.backupListRedirect},
		{Pattern: "GET /backups", Role: auth.Viewer, Handle: h.backupList},
		{Pattern: "GET /backups/table", Role: auth.Viewer, Handle: h.backupTable},
		{Pattern: "POST /backups", Role: auth.Operator, Handle: h.backupCreate},
		{Pattern: "GET /backups/{id}", Role: auth.Viewer, Handle: h.backupDetail},
		{Pattern: "GET /backups/{id}/summary", Role: auth.Viewer, Handle: h.backupSummary},
	}
}

// guard wraps a route with its role check and the error renderer.
func (h *Handlers) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := h.authorize(w, r, rt.Role)
		if err == nil {
			err = rt.Handle(w, r)
		}
		if err != nil {
			h.renderError(w, r, err)
		}
	})
}
