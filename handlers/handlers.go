// Package handlers serves the pages and the JSON API. Every route is listed in routes.go with its minimum
// role; handlers are methods on one struct holding the dependencies, each: parse → authorize → call → render.
package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/static"
	"github.com/uscpis/pisbackup/views"
)

// Deps are the handlers' dependencies, built once in run.
type Deps struct {
	Pool  *pgxpool.Pool
	Q     *queries.Queries
	River *river.Client[pgx.Tx] // insert-only in --no-workers mode; enqueues either way
	Cfg   *config.Config
	Store storage.Store
	Keys  *crypt.Keys
	Log   *slog.Logger
	Now   func() time.Time
	// RiverUI serves the job UI at /admin/jobs (nil in tests that do not need it).
	RiverUI http.Handler
	// Preflight holds the latest `pisbackup preflight` report for the configuration card and
	// /api/v1/health (nil in tests that do not need it: both then leave the checks out).
	Preflight *preflight.Monitor
}

// Handlers holds Deps; its methods are the actions.
type Handlers struct {
	Deps
	sessions *scs.SessionManager
	limits   *loginLimits
	pwLimits *buckets // wrong current passwords on /profile/password, per user
	reads    readCoalescer
}

// New returns the whole HTTP handler: routes, their role checks, cross-origin protection and static files.
func New(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &Handlers{Deps: d, sessions: newSessions(d), limits: newLoginLimits(), pwLimits: newBuckets(perUserPassword)}
	// A session that cannot be loaded or saved answers like any other error: plainly "catalog unreachable"
	// (503) during an outage, never a bare 500.
	h.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		h.renderError(w, r, fmt.Errorf("session store: %w", err))
	}
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Pattern, h.guard(rt))
	}
	mux.Handle("GET /static/", static.Handler())
	// Everything else: the styled 404 page, or the JSON envelope under /api/.
	mux.Handle("/", h.guard(Route{Pattern: "/", Role: auth.Public, Handle: h.notFound, Inert: true}))
	// Go's cross-origin protection refuses state-changing browser requests from other sites (by Sec-Fetch-Site
	// and Origin), while API clients that send neither header (curl, scripts with tokens) pass through.
	// Same-site HTMX requests carry Sec-Fetch-Site: same-origin and pass; session cookies are SameSite=Lax too.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(h.crossOriginDenied))
	return withRequestID(securityHeaders(d.Cfg.SecureCookies(), cop.Handler(mux)))
}

// chrome builds the layout model for the signed-in user.
func (h *Handlers) chrome(r *http.Request, title, nav string) views.Chrome {
	p := principalFrom(r.Context())
	c := views.Chrome{Title: title, Nav: nav, UserName: p.Name, Role: p.Role, TZ: h.Cfg.DisplayTZ, Now: h.Now(),
		HTMX: static.Has("vendor/htmx.min.js")}
	if h.Cfg.Unencrypted {
		c.Banners = append(c.Banners, "BACKUP_UNENCRYPTED is on: new backups are stored without encryption.")
	}
	if h.Cfg.RestoreAllowSuperuser {
		c.Banners = append(c.Banners, "RESTORE_ALLOW_SUPERUSER is on: drills and restores may run a backup's SQL with more power "+
			"than CREATEDB (programs and files on the database server). Use it only on a single-user laptop.")
	}
	return c
}

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }
