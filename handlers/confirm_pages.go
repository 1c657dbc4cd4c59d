package handlers

import (
	"net/http"

	"github.com/uscpis/pisbackup/views"
)

// backupDeleteConfirm is the delete confirmation as a page (the "Delete…" link's target): the dialog needs
// JavaScript, this does not.
func (h *Handlers) backupDeleteConfirm(w http.ResponseWriter, r *http.Request) error {
	return h.renderDeleteConfirm(w, r, http.StatusOK, "")
}

func (h *Handlers) renderDeleteConfirm(w http.ResponseWriter, r *http.Request, code int, msg string) error {
	vm, err := h.backupDetailVM(r)
	if err != nil {
		return err
	}
	if vm.B.StorageKey == "" || vm.B.PrunedAt != nil {
		return Errorf(CodeConflict, "backup #%d has no stored artifact to delete", vm.B.ID)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.DeleteConfirmPage(vm, msg).Render(r.Context(), w)
}

// backupRestoreConfirm is the restore form as a page (the "Restore…" link's target), for browsers without
// JavaScript; the form posts to the same POST /backups/{id}/restore.
func (h *Handlers) backupRestoreConfirm(w http.ResponseWriter, r *http.Request) error {
	return h.renderRestoreConfirm(w, r, http.StatusOK, "", "")
}

func (h *Handlers) renderRestoreConfirm(w http.ResponseWriter, r *http.Request, code int, target, msg string) error {
	vm, err := h.backupDetailVM(r)
	if err != nil {
		return err
	}
	vm.RestoreTarget, vm.RestoreError = target, msg
	act := vm.Activity()
	if !act.Restorable() {
		return Errorf(CodeConflict, "backup #%d cannot be restored (not a finished, stored database backup)", vm.B.ID)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.RestoreConfirmPage(act).Render(r.Context(), w)
}
