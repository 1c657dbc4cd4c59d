package handlers

import (
	"context"
	"net/http"
	"time"
)

// healthz is liveness: 200 while the process serves requests.
func (h *Handlers) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is readiness: 503 when pisbackup's database does not answer.
func (h *Handlers) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := h.Pool.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": []string{"catalog database unreachable"}})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	return nil
}
