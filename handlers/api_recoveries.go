package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
	"github.com/uscpis/pisbackup/jobs"
)

// RecoveryRequest is the body of POST /api/v1/backups/{id}/recoveries: which rows of which table, and what
// to do with them. Mode is "dry_run" (compare only, the default), "sql" (also the reviewable script) or
// "apply" (admins only; Confirm must repeat Table). Keys are "column=value" ("col=v,col2=w" for a composite
// key); Where is the simple filter `pisbackup recover --where` takes. WithMedia (full backups) also restores
// into MEDIA_ROOT the files the written rows reference and MEDIA_ROOT lacks; the answer's "media" lists them.
type RecoveryRequest struct {
	Table       string   `json:"table"`
	Keys        []string `json:"keys"`
	Where       string   `json:"where"`
	WithRelated bool     `json:"with_related"`
	WithMedia   bool     `json:"with_media"`
	Mode        string   `json:"mode"`
	Overwrite   bool     `json:"overwrite"`
	Confirm     string   `json:"confirm"`
}

var recoveryExample = RecoveryRequest{Table: "patients_patient", Keys: []string{"id=1042"}, WithRelated: true, Mode: "dry_run"}

// apiRecoveryCreate runs one record recovery synchronously (the same jobs.Recover as the CLI) and answers
// 200 with the diff (and the SQL or what was written), or 422 naming what failed; the recovery is recorded
// and audited either way. Operators may compare and script; applying needs an administrator.
func (h *Handlers) apiRecoveryCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RecoveryRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Mode == "" {
		req.Mode = jobs.RecoverDryRun
	}
	p := principalFrom(r.Context())
	switch {
	case req.Mode != jobs.RecoverDryRun && req.Mode != jobs.RecoverSQL && req.Mode != jobs.RecoverApply:
		return FieldError("mode", "mode is dry_run, sql or apply")
	case strings.TrimSpace(req.Table) == "":
		return FieldError("table", "name the table, e.g. patients_patient")
	case len(req.Keys) == 0 && strings.TrimSpace(req.Where) == "":
		return FieldError("keys", "choose rows with keys (e.g. [\"id=1042\"]) or where")
	case req.Mode == jobs.RecoverApply && !p.Role.Allows(auth.Admin):
		return Errorf(CodeForbidden, "applying a recovery needs an administrator; operators may use dry_run or sql")
	case req.Mode == jobs.RecoverApply && req.Confirm != req.Table:
		return FieldError("confirm", "type the table name %q exactly to confirm writing into the clinic database", req.Table)
	case req.Mode == jobs.RecoverApply && h.Cfg.SourceWrite == nil:
		return Errorf(CodeConflict, "%s", jobs.ErrNoWriteURL.Error())
	}
	var keys []recordrecovery.Key
	for _, k := range req.Keys {
		key, err := recordrecovery.ParseKey(k)
		if err != nil {
			return FieldError("keys", "%s", strings.TrimPrefix(err.Error(), "--key "))
		}
		keys = append(keys, key)
	}
	res, err := jobs.Recover(r.Context(), h.jobDeps(), jobs.RecoverRequest{BackupID: id, Table: req.Table, Keys: keys, Where: req.Where,
		WithRelated: req.WithRelated, WithMedia: req.WithMedia, Mode: req.Mode, Overwrite: req.Overwrite, Actor: p.Name})
	if res == nil && err != nil {
		if strings.Contains(err.Error(), "not found") {
			return Errorf(CodeNotFound, "backup not found")
		}
		return Errorf(CodeConflict, "%s", err.Error())
	}
	if err != nil {
		return Errorf(CodeInvalid, "recovery #%d failed: %s", res.RecoveryID, err.Error())
	}
	if req.Mode == jobs.RecoverApply {
		h.auditChanged(r, map[string]any{"recovery_id": res.RecoveryID, "rows": len(res.Touched)})
	}
	w.Header().Set("Location", "/api/v1/recoveries/"+strconv.FormatInt(res.RecoveryID, 10))
	writeJSON(w, http.StatusOK, res)
	return nil
}

// apiRecoveryGet is one recovery as the catalog recorded it: mode, status, per-table counts, row keys and
// changed column names (never column values), its undo artifact.
func (h *Handlers) apiRecoveryGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rec, err := h.Q.RecoveryGet(r.Context(), id)
	if err != nil {
		return NotFound(err, "recovery")
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// RecoveryUndoRequest is the body of POST /api/v1/recoveries/{id}/undo: Confirm repeats the recovery's id.
type RecoveryUndoRequest struct {
	Confirm string `json:"confirm"`
}

// apiRecoveryUndo takes an applied recovery back (administrators; the same jobs.UndoRecovery as
// `pisbackup recover --undo`): 200 with the rows reversed and media files removed, 422 without the typed
// confirmation, 409 when it cannot be undone (not applied, already undone, a row or file changed since:
// then nothing was undone). Audited.
func (h *Handlers) apiRecoveryUndo(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RecoveryUndoRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := h.Q.RecoveryGet(r.Context(), id); err != nil {
		return NotFound(err, "recovery")
	}
	if strings.TrimSpace(req.Confirm) != strconv.FormatInt(id, 10) {
		return FieldError("confirm", "type the recovery's id %d exactly to confirm taking it back", id)
	}
	res, err := jobs.UndoRecovery(r.Context(), h.jobDeps(), id, principalFrom(r.Context()).Name)
	if err != nil {
		return Errorf(CodeConflict, "%s", err.Error())
	}
	h.auditChanged(r, map[string]any{"recovery_id": id, "rows": res.Rows, "media_removed": res.MediaRemoved})
	writeJSON(w, http.StatusOK, res)
	return nil
}
