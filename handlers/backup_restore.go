package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// RestoreRequest is the body of POST /api/v1/backups/{id}/restore. Confirm must repeat TargetDB unless DryRun.
type RestoreRequest struct {
	TargetDB string `json:"target_db"`
	Confirm  string `json:"confirm"`
	DryRun   bool   `json:"dry_run"`
	// CreateRoles creates the roles the backup references and the restore server lacks (NOLOGIN, through
	// ROLE_ADMIN_DATABASE_URL) before restoring; see jobs.RestoreRequest.CreateRoles.
	CreateRoles bool `json:"create_roles,omitempty"`
}

// backupRestore is the detail page's restore form (admin). Refusals re-render the form with the message.
func (h *Handlers) backupRestore(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	req := RestoreRequest{TargetDB: strings.TrimSpace(r.PostForm.Get("target_db")), Confirm: strings.TrimSpace(r.PostForm.Get("confirm")),
		DryRun: r.PostForm.Get("dry_run") != "", CreateRoles: r.PostForm.Get("create_roles") != ""}
	rs, err := h.startRestore(r, req)
	var fe *Error
	if errors.As(err, &fe) && fe.Field != "" {
		if isHTMX(r) {
			vm, verr := h.backupDetailVM(r)
			if verr != nil {
				return verr
			}
			vm.RestoreTarget, vm.RestoreError = req.TargetDB, fe.Message
			// 200 so htmx swaps the form back in with its message (it does not swap 4xx responses).
			setToast(w, fe.Message, "error")
			return views.BackupLive(vm).Render(r.Context(), w)
		}
		return h.renderRestoreConfirm(w, r, http.StatusUnprocessableEntity, req.TargetDB, fe.Message)
	} else if err != nil {
		return err
	}
	if !isHTMX(r) {
		http.Redirect(w, r, "/backups/"+strconv.FormatInt(rs.BackupID, 10)+"#activity", http.StatusSeeOther)
		return nil
	}
	setToast(w, fmt.Sprintf("Restore #%d queued.", rs.ID), "info")
	return h.backupSummary(w, r) // the whole live region: it polls fast while the restore runs
}

// apiBackupRestore queues a restore: 202 with its row, which GET /api/v1/restores/{id} follows.
func (h *Handlers) apiBackupRestore(w http.ResponseWriter, r *http.Request) error {
	var req RestoreRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	rs, err := h.startRestore(r, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/restores/"+strconv.FormatInt(rs.ID, 10))
	writeJSON(w, http.StatusAccepted, rs)
	return nil
}

// startRestore validates, audits (refusals included) and enqueues one restore.
func (h *Handlers) startRestore(r *http.Request, req RestoreRequest) (queries.Restore, error) {
	id, err := pathID(r)
	if err != nil {
		return queries.Restore{}, err
	}
	switch {
	case req.TargetDB == "":
		return queries.Restore{}, FieldError("target_db", "name the database to restore into")
	case !req.DryRun && req.Confirm != req.TargetDB:
		return queries.Restore{}, FieldError("confirm", "type the target database name %q exactly to confirm", req.TargetDB)
	}
	p := principalFrom(r.Context())
	rs, err := jobs.EnqueueRestore(r.Context(), h.Pool, h.River, h.Cfg, jobs.RestoreRequest{BackupID: id, TargetDB: req.TargetDB,
		Confirm: req.Confirm, DryRun: req.DryRun, CreateRoles: req.CreateRoles, RequestedBy: p.UserID})
	var te *jobs.TargetError
	var ne *jobs.NotRestorableError
	var ce *jobs.CreateRolesError
	switch {
	case isNoRows(err):
		return rs, Errorf(CodeNotFound, "backup not found")
	case errors.As(err, &te):
		h.auditRefusal(r, "backup.restore_refused", backupTarget(id), map[string]any{"target_db": req.TargetDB, "reason": te.Error()})
		return rs, FieldError("target_db", "%s", te.Error())
	case errors.As(err, &ce):
		h.auditRefusal(r, "backup.restore_refused", backupTarget(id), map[string]any{"target_db": req.TargetDB, "create_roles": true, "reason": ce.Error()})
		return rs, FieldError("create_roles", "%s", ce.Error())
	case errors.As(err, &ne):
		return rs, Errorf(CodeConflict, "%s", ne.Error())
	case errors.Is(err, jobs.ErrConfirmTarget):
		return rs, FieldError("confirm", "%s", err.Error())
	case err != nil:
		return rs, err
	}
	h.audit(r, "backup.restore", backupTarget(id), map[string]any{"restore_id": rs.ID, "target_db": req.TargetDB, "dry_run": req.DryRun, "create_roles": req.CreateRoles})
	return rs, nil
}

// apiRestoreGet is one restore: status, progress, and its details (listing for a dry run, table counts).
func (h *Handlers) apiRestoreGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rs, err := h.Q.RestoreGet(r.Context(), id)
	if err != nil {
		return NotFound(err, "restore")
	}
	writeJSON(w, http.StatusOK, rs)
	return nil
}
