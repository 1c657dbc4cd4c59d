package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/jobs"
)

// CancelResponse is what the cancel API answers: "cancelling" while the running work is being stopped (its
// row turns "cancelled" within seconds), "cancelled" when it had not started.
type CancelResponse struct {
	What   string `json:"what"`
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// cancel stops one backup, verification (drill), restore or media migration for the signed-in principal, and
// audits it as "<what>.cancel". It returns what happened, or 404/409.
func (h *Handlers) cancel(r *http.Request, what string) (CancelResponse, error) {
	id, err := pathID(r)
	if err != nil {
		return CancelResponse{}, err
	}
	by := principalFrom(r.Context()).actor()
	d := &jobs.Deps{Pool: h.Pool, Q: h.Q, Cfg: h.Cfg, Log: h.Log, Store: h.Store, Keys: h.Keys}
	out, err := jobs.CancelWork(r.Context(), d, what, id, by)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return CancelResponse{}, Errorf(CodeNotFound, "%s #%d not found", what, id)
	case errors.Is(err, jobs.ErrNotInFlight):
		return CancelResponse{}, Errorf(CodeConflict, "%s", err.Error())
	case err != nil:
		return CancelResponse{}, err
	}
	h.audit(r, what+".cancel", what+":"+strconv.FormatInt(id, 10), map[string]string{"outcome": string(out)})
	return CancelResponse{What: what, ID: id, Status: string(out)}, nil
}

// apiCancel answers POST /api/v1/…/{id}/cancel: 202 with CancelResponse.
func (h *Handlers) apiCancel(what string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := h.cancel(r, what)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, res)
		return nil
	}
}

// pageCancel answers the Cancel buttons: back to the page the work shows on (back), with a toast for HTMX.
func (h *Handlers) pageCancel(what string, back func(r *http.Request, id int64) string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := h.cancel(r, what)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("%s #%d cancelled.", what, res.ID)
		if res.Status == string(jobs.CancelRequested) {
			msg = fmt.Sprintf("Stopping %s #%d…", what, res.ID)
		}
		if isHTMX(r) {
			setToast(w, msg, "info")
			w.Header().Set("HX-Refresh", "true")
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		http.Redirect(w, r, back(r, res.ID), http.StatusSeeOther)
		return nil
	}
}

// Where each kind's Cancel button returns to.
func (h *Handlers) backupPage(_ *http.Request, id int64) string {
	return "/backups/" + strconv.FormatInt(id, 10)
}

func (h *Handlers) verificationPage(r *http.Request, id int64) string {
	if v, err := h.Q.VerificationGet(r.Context(), id); err == nil {
		return "/backups/" + strconv.FormatInt(v.BackupID, 10) + "#activity"
	}
	return "/backups"
}

func (h *Handlers) restorePage(r *http.Request, id int64) string {
	if x, err := h.Q.RestoreGet(r.Context(), id); err == nil {
		return "/backups/" + strconv.FormatInt(x.BackupID, 10) + "#activity"
	}
	return "/backups"
}

func (h *Handlers) mediaPageURL(*http.Request, int64) string { return "/media" }
