package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// AlertJSON is one alert in the API.
type AlertJSON struct {
	ID             int64  `json:"id"`
	Rule           string `json:"rule"`
	Subject        string `json:"subject"`
	Severity       string `json:"severity"`
	State          string `json:"state"`
	Title          string `json:"title"`
	Message        string `json:"message"`
	Recommendation string `json:"recommendation"`
	// Link is the page of the backup or schedule the alert is about (a path: /backups/25, /schedules/3).
	Link       string    `json:"link"`
	Emailed    bool      `json:"emailed"` // false for rules shown on the dashboard only
	OpenedAt   time.Time `json:"opened_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// LastEmailedAt is when SendGrid last accepted an e-mail about the alert; null when none was (no
	// recipients, outbox only, delivery failing).
	LastEmailedAt  *time.Time `json:"last_emailed_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	Occurrences    int32      `json:"occurrences"`
}

// alertJSON shows one alert row in the API.
func alertJSON(a queries.AlertListRow) AlertJSON {
	d := alert.ParseDetails(a.Details)
	return AlertJSON{ID: a.ID, Rule: a.Rule, Subject: a.Subject, Severity: a.Severity, State: a.State,
		Title: a.Title, Message: d.Message, Recommendation: d.Recommendation, Link: alert.LinkOf(a.Subject, a.Details),
		Emailed: !alert.Silent(a.Rule), OpenedAt: a.OpenedAt, LastSeenAt: a.LastSeenAt, LastEmailedAt: a.LastEmailedAt,
		AcknowledgedAt: a.AcknowledgedAt, AcknowledgedBy: a.AcknowledgedBy, ResolvedAt: a.ResolvedAt, Occurrences: a.Occurrences}
}

// apiAlerts is GET /api/v1/alerts: open alerts first, then recently resolved ones; state and limit filter.
func (h *Handlers) apiAlerts(w http.ResponseWriter, r *http.Request) error {
	p := queries.AlertListParams{Lim: 100}
	if v := r.URL.Query().Get("state"); v != "" {
		if v != "open" && v != "resolved" {
			return FieldError("state", "state must be open or resolved")
		}
		p.State = &v
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return FieldError("limit", "limit must be a whole number from 1 to 500")
		}
		p.Lim = int32(n)
	}
	rows, err := h.Q.AlertList(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]AlertJSON, 0, len(rows))
	for _, a := range rows {
		out = append(out, alertJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
	return nil
}

// apiEmailStatus is GET /api/v1/email/status: configured or outbox, recipients count, failing, recent counts.
func (h *Handlers) apiEmailStatus(w http.ResponseWriter, r *http.Request) error {
	s, err := recovery.Email(r.Context(), h.Q, h.Cfg, h.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

// EmailTestRequest is the body of POST /api/v1/email/test.
type EmailTestRequest struct {
	Email   string `json:"email"`
	Subject string `json:"subject,omitempty"`
}

// apiEmailTest is POST /api/v1/email/test: 202 with the queued (or outbox) e-mail; poll the e-mail log or
// GET /api/v1/email/status for the outcome.
func (h *Handlers) apiEmailTest(w http.ResponseWriter, r *http.Request) error {
	var req EmailTestRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	to, err := mail.CheckAddress(req.Email)
	if err != nil {
		return FieldError("email", "%s", err.Error())
	}
	if len(req.Subject) > 200 {
		return FieldError("subject", "subject must be at most 200 characters")
	}
	row, err := h.sendTestEmail(r, to, req.Subject)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"email": map[string]any{"id": row.ID, "subject": row.Subject,
		"provider": row.Provider, "status": row.Status}})
	return nil
}
