package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/uscpis/pisbackup/internal/recovery"
)

// healthz is liveness: 200 while the process serves requests.
func (h *Handlers) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyProblem is what /readyz reveals about a problem: which rule, subject and severity, no details (it is
// public).
type readyProblem struct {
	Rule     string `json:"rule"`
	Subject  string `json:"subject"`
	Severity string `json:"severity"`
}

// readyz is readiness in the sense SPEC section 6 gives it, so a dead scheduler is noticed by any uptime
// monitor. It renders the recoverability state (the dashboard's): 503 when the state is critical ("At risk":
// no good backup, the newest backup failed, a schedule overdue, the scheduler or worker dead, a corrupt newest
// backup) or the catalog does not answer; 200 with status "ok" or "warning" otherwise.
func (h *Handlers) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.Pool.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": []readyProblem{{Rule: "catalog_unreachable", Subject: "database", Severity: "critical"}}})
		return nil
	}
	st, err := h.recoveryState(ctx, nil)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": []readyProblem{{Rule: "monitor_error", Subject: "database", Severity: "critical"}}})
		return nil
	}
	problems := []readyProblem{}
	for _, p := range st.Problems {
		problems = append(problems, readyProblem{Rule: p.Rule, Subject: p.Subject, Severity: p.Severity})
	}
	code := http.StatusOK
	if st.Status == recovery.StatusCritical {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": st.Status, "level": st.Level, "problems": problems})
	return nil
}
