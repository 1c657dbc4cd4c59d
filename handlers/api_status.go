package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/uscpis/pisbackup/internal/preflight"
)

// apiStatus is for uptime monitors: public and quick, so it says only whether the service answers and its
// database is reachable; nothing about backups, users or configuration.
func (h *Handlers) apiStatus(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.Pool.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "time": h.Now().UTC().Format(time.RFC3339)})
	return nil
}

// apiHealth is the full picture for signed-in users: the recoverability state (the same the dashboard,
// /health, /readyz and monitor-backups show: status, level, headline, per-kind newest/good/proven backups,
// schedules, scheduler and worker liveness, e-mail deliverability, problems), plus work in flight, open
// alerts, which integrations are configured (never their secrets) and the preflight report. "status" is the
// state's status and nothing else; a failing preflight check shows as preflight.ok false.
func (h *Handlers) apiHealth(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st, err := h.recoveryState(ctx, nil)
	if err != nil {
		return err
	}
	running, err := h.Q.BackupListRunning(ctx)
	if err != nil {
		return err
	}
	alerts, err := h.Q.AlertListOpen(ctx)
	if err != nil {
		return err
	}
	out := map[string]any{
		"status": st.Status, "state": st, "time": h.Now().UTC(), "in_flight": len(running), "open_alerts": len(alerts),
		"configuration": map[string]any{
			"email": h.Cfg.EmailConfigured(), "cloudinary": h.Cfg.CloudinaryConfigured(),
			"encrypted": !h.Cfg.Unencrypted, "storage": h.storageName(),
		},
	}
	if h.Preflight != nil {
		// The report `pisbackup preflight` prints; a request waits for the first run, later ones get the
		// latest (refreshed every few minutes).
		pctx, cancel := context.WithTimeout(ctx, preflight.Timeout+5*time.Second)
		rep, err := h.Preflight.Get(pctx)
		cancel()
		if err != nil {
			out["preflight"] = map[string]any{"ok": false, "error": "the checks did not finish in time"}
		} else {
			out["preflight"] = rep
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) storageName() string {
	if h.Store == nil {
		return ""
	}
	return h.Store.String()
}
