package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// VerifyRequest is the body of POST /api/v1/backups/{id}/verify.
type VerifyRequest struct {
	Level string `json:"level"`
}

// backupVerify is the detail page's verify buttons.
func (h *Handlers) backupVerify(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	v, err := h.startVerification(r, r.PostForm.Get("level"))
	if err != nil {
		return err
	}
	if !isHTMX(r) {
		http.Redirect(w, r, "/backups/"+strconv.FormatInt(v.BackupID, 10)+"#activity", http.StatusSeeOther)
		return nil
	}
	setToast(w, fmt.Sprintf("%s verification #%d queued.", v.Level, v.ID), "info")
	return h.backupSummary(w, r) // the whole live region: it polls fast while the verification runs
}

// apiBackupVerify queues a verification: 202 with its row, which GET /api/v1/verifications/{id} follows.
func (h *Handlers) apiBackupVerify(w http.ResponseWriter, r *http.Request) error {
	var req VerifyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	v, err := h.startVerification(r, req.Level)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/verifications/"+strconv.FormatInt(v.ID, 10))
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// MaxLiveDrillsBelowAdmin bounds the drills operators can have queued or running at once, across all backups
// (each drill is a full restore on the clinic's server); a backup never has two at a time (jobs.DrillInFlightError).
const MaxLiveDrillsBelowAdmin = 3

// drillCapped runs queue (which queues a drill a person asked for, inside tx) only while fewer than
// MaxLiveDrillsBelowAdmin such drills are queued or running, counting and queueing under one lock; past the cap
// it returns a CodeRateLimited *Error and queues nothing. Every way a non-admin starts a drill goes through it
// (the verify buttons and API, a drill schedule's Run now).
func (h *Handlers) drillCapped(ctx context.Context, queue func(tx pgx.Tx) error) error {
	return h.serialized(ctx, "drill-cap", func(tx pgx.Tx, q *queries.Queries) error {
		n, err := q.VerificationCountLiveDrillsByPeople(ctx)
		if err != nil {
			return err
		}
		if n >= MaxLiveDrillsBelowAdmin {
			return Errorf(CodeRateLimited, "%d drills asked for by people are already queued or running; an operator may add one when one finishes (admins are not limited)", n)
		}
		return queue(tx)
	})
}

// runSchedule is "Run now" of s for the caller (trigger "manual" or "api"): a non-admin's run of a drill
// schedule queues a drill a person asked for, so it goes through the operator drill cap (drillCapped).
func (h *Handlers) runSchedule(r *http.Request, s queries.Schedule, trigger string) (f jobs.Fired, err error) {
	p := principalFrom(r.Context())
	if s.Kind != "drill" || p.Role.Allows(auth.Admin) {
		return jobs.RunSchedule(r.Context(), h.jobDeps(), h.River, s, trigger, p.UserID)
	}
	err = h.drillCapped(r.Context(), func(tx pgx.Tx) (err error) {
		f, err = jobs.RunScheduleIn(r.Context(), h.jobDeps(), tx, h.River, s, trigger, p.UserID)
		return err
	})
	return f, err
}

func (h *Handlers) startVerification(r *http.Request, level string) (queries.Verification, error) {
	b, err := h.backupFromPath(r)
	if err != nil {
		return queries.Verification{}, err
	}
	if !slices.Contains(jobs.Levels, level) {
		return queries.Verification{}, FieldError("level", "level must be one of %v", jobs.Levels)
	}
	if b.Status != "succeeded" && b.Status != "warning" || b.StorageKey == "" || b.PrunedAt != nil {
		return queries.Verification{}, Errorf(CodeConflict, "backup #%d has no stored artifact to verify (status %s)", b.ID, b.Status)
	}
	p := principalFrom(r.Context())
	var v queries.Verification
	req := jobs.VerifyRequest{BackupID: b.ID, Level: level, CreatedBy: p.UserID}
	if level == "drill" && !p.Role.Allows(auth.Admin) {
		// Count and queue under one lock: concurrent requests would each see room under the cap.
		err = h.drillCapped(r.Context(), func(tx pgx.Tx) (err error) {
			v, err = jobs.EnqueueVerificationTx(r.Context(), tx, h.River, req)
			return err
		})
	} else {
		v, err = jobs.EnqueueVerification(r.Context(), h.Pool, h.River, req)
	}
	var inFlight *jobs.DrillInFlightError
	if errors.As(err, &inFlight) {
		return v, Errorf(CodeConflict, "%s", inFlight.Error())
	} else if err != nil {
		return v, err
	}
	h.audit(r, "backup.verify", backupTarget(b.ID), map[string]any{"level": level, "verification_id": v.ID})
	return v, nil
}

// apiVerificationGet is one verification, with its details (a drill's per-table comparison).
func (h *Handlers) apiVerificationGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := h.Q.VerificationGet(r.Context(), id)
	if err != nil {
		return NotFound(err, "verification")
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// backupActivity is the live verifications/restores part of the detail page.
func (h *Handlers) backupActivity(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.backupDetailVM(r)
	if err != nil {
		return err
	}
	return views.BackupActivity(vm.Activity()).Render(r.Context(), w)
}

// isNoRows is true for a missing row, wrapped or not.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
