package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/uscpis/pisbackup/internal/monitor"
)

// healthz is liveness: 200 while the process serves requests.
func (h *Handlers) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyProblem is what /readyz reveals about a problem: which rule and subject, no details (it is public).
type readyProblem struct {
	Rule    string `json:"rule"`
	Subject string `json:"subject"`
}

// readyz is readiness in the sense SPEC section 6 gives it, so a dead scheduler is noticed by any uptime
// monitor: 503 when pisbackup's database does not answer, when the newest good backup is past its schedule's
// deadline, or when the worker's health/monitor job has not run for two intervals.
func (h *Handlers) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.Pool.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": []readyProblem{{Rule: "catalog_unreachable", Subject: "database"}}})
		return nil
	}
	rep, err := monitor.Evaluate(ctx, h.Q, nil, h.Now())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": []readyProblem{{Rule: "monitor_error", Subject: "database"}}})
		return nil
	}
	problems := []readyProblem{}
	for _, p := range rep.Problems {
		if p.Rule == monitor.RuleBackupStale || p.Rule == monitor.RuleMonitorNotRunning {
			problems = append(problems, readyProblem{Rule: p.Rule, Subject: p.Subject})
		}
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": problems})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "problems": problems})
	return nil
}
