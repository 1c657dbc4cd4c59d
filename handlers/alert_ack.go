package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/queries"
)

// acknowledgeAlert records that staff know about an open alert: reminders stop, the alert stays open (its
// problem is still real) until the cause is gone. Audited with who and when. A resolved or unknown alert is
// a 404; acknowledging twice keeps the first acknowledgement.
func (h *Handlers) acknowledgeAlert(r *http.Request) (queries.Alert, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return queries.Alert{}, Errorf(CodeNotFound, "no such alert %q", r.PathValue("id"))
	}
	actor := principalFrom(r.Context()).actor()
	a, err := h.Q.AlertAcknowledge(r.Context(), queries.AlertAcknowledgeParams{ID: id, Now: h.Now(), By: actor})
	if errors.Is(err, pgx.ErrNoRows) {
		return a, Errorf(CodeNotFound, "alert #%d is not open (resolved or unknown)", id)
	} else if err != nil {
		return a, err
	}
	h.audit(r, "alert.acknowledge", "alert:"+strconv.FormatInt(id, 10), map[string]any{"rule": a.Rule, "subject": a.Subject})
	return a, nil
}

// alertAck is the alerts page's "Acknowledge" button.
func (h *Handlers) alertAck(w http.ResponseWriter, r *http.Request) error {
	a, err := h.acknowledgeAlert(r)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/alerts#alert-"+strconv.FormatInt(a.ID, 10), http.StatusSeeOther)
	return nil
}

// apiAlertAck is POST /api/v1/alerts/{id}/acknowledge.
func (h *Handlers) apiAlertAck(w http.ResponseWriter, r *http.Request) error {
	a, err := h.acknowledgeAlert(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": a.ID, "acknowledged_at": a.AcknowledgedAt, "acknowledged_by": a.AcknowledgedBy})
	return nil
}
