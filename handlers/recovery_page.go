package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/views"
)

// recoveryPage is one recorded recovery (GET /recoveries/{id}, operators): its counts and written row keys,
// and for administrators, while it can be undone, the undo form.
func (h *Handlers) recoveryPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderRecovery(w, r, http.StatusOK, "", "")
}

// recoveryUndo (POST /recoveries/{id}/undo, administrators) takes an applied recovery back through
// jobs.UndoRecovery, the engine of `pisbackup recover --undo`, once the recovery's number is typed. The
// request is audited by the route guard, the undo itself as recovery.undo (or undo_failed).
func (h *Handlers) recoveryUndo(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	if _, err := h.Q.RecoveryGet(r.Context(), id); err != nil {
		return NotFound(err, "recovery")
	}
	if strings.TrimSpace(r.PostForm.Get("confirm")) != strconv.FormatInt(id, 10) {
		return h.renderRecovery(w, r, http.StatusUnprocessableEntity, "",
			fmt.Sprintf("type the recovery number %d exactly to undo it; nothing was undone", id))
	}
	res, err := jobs.UndoRecovery(r.Context(), h.jobDeps(), id, principalFrom(r.Context()).Name)
	if err != nil {
		h.auditRefusal(r, "recovery.undo_refused", "recovery:"+strconv.FormatInt(id, 10), map[string]string{"error": err.Error()})
		return h.renderRecovery(w, r, http.StatusConflict, "", err.Error())
	}
	h.auditChanged(r, map[string]any{"recovery_id": id, "rows": res.Rows, "media_removed": res.MediaRemoved})
	return h.renderRecovery(w, r, http.StatusOK,
		fmt.Sprintf("Recovery #%d undone: %d row(s) reversed, %d media file(s) removed.", id, res.Rows, res.MediaRemoved), "")
}

func (h *Handlers) renderRecovery(w http.ResponseWriter, r *http.Request, code int, done, msg string) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rec, err := h.Q.RecoveryGet(r.Context(), id)
	if err != nil {
		return NotFound(err, "recovery")
	}
	vm := views.RecoveryVM{Chrome: h.chrome(r, fmt.Sprintf("Recovery #%d", id), "backups"), R: rec, Done: done, Error: msg}
	_ = json.Unmarshal(rec.Summary, &vm.Sum) // a running recovery has "{}"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.RecoveryPage(vm).Render(r.Context(), w)
}
