package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/views"
)

// backupCreate is "Back up now": it records and enqueues a backup (or finds the running one) and refreshes
// the table in place.
func (h *Handlers) backupCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	kind := r.PostForm.Get("kind")
	if kind == "" {
		kind = "database"
	}
	if kind != "database" && kind != "media" && kind != "full" {
		return FieldError("kind", "kind must be database, media or full")
	}
	p := principalFrom(r.Context())
	b, existing, err := jobs.EnqueueBackup(r.Context(), h.Pool, h.River, h.Cfg,
		jobs.BackupRequest{Kind: kind, Trigger: "manual", CreatedBy: p.UserID})
	if errors.Is(err, jobs.ErrJobStillActive) {
		return Errorf(CodeConflict, "%s", err.Error())
	} else if err != nil {
		return err
	}
	msg := fmt.Sprintf("Backup #%d (%s) started.", b.ID, b.Kind)
	if !existing {
		h.audit(r, "backup.create", backupTarget(b.ID), map[string]string{"kind": b.Kind, "trigger": "manual"})
	}
	if existing {
		msg = fmt.Sprintf("A %s backup is already %s (#%d); showing it instead of starting another.", b.Kind, b.Status, b.ID)
	}
	if !isHTMX(r) {
		http.Redirect(w, r, "/backups/"+strconv.FormatInt(b.ID, 10), http.StatusSeeOther)
		return nil
	}
	setToast(w, msg, "info")
	if r.URL.Query().Get("swap") == "dash-live" {
		vm, err := h.dashboardVM(r)
		if err != nil {
			return err
		}
		return views.DashboardLive(vm).Render(r.Context(), w)
	}
	// From the list page: re-render its table with the filters dropped so the new row shows.
	r.URL.RawQuery = ""
	vm, err := h.backupListVM(r)
	if err != nil {
		return err
	}
	return views.BackupTable(vm).Render(r.Context(), w)
}
