package handlers

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"

	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// apiBackupDelete removes a backup's stored artifact and manifest and marks the row pruned; the row stays as
// history. Refused while the backup, or a verification or restore of it, is still in flight.
func (h *Handlers) apiBackupDelete(w http.ResponseWriter, r *http.Request) error {
	b, err := h.backupFromPath(r)
	if err != nil {
		return err
	}
	if b, err = h.deleteBackup(r, b); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// backupDeletePage is the page's delete: the same action behind a typed confirmation, checked here too
// because a script can skip the dialog.
func (h *Handlers) backupDeletePage(w http.ResponseWriter, r *http.Request) error {
	b, err := h.backupFromPath(r)
	if err != nil {
		return err
	}
	if want := views.DeleteConfirmation(b.ID); r.PostFormValue("confirm") != want {
		return h.renderDeleteConfirm(w, r, http.StatusUnprocessableEntity, "Type "+want+" exactly to delete this backup.")
	}
	if _, err := h.deleteBackup(r, b); err != nil {
		return err
	}
	http.Redirect(w, r, "/backups/"+strconv.FormatInt(b.ID, 10), http.StatusSeeOther)
	return nil
}

// deleteBackup removes the stored artifact and its sidecars (manifest, global objects), and a full backup's
// parts with theirs, and marks the rows pruned (kept as history).
func (h *Handlers) deleteBackup(r *http.Request, b queries.Backup) (queries.Backup, error) {
	if views.InFlight(b.Status) {
		return b, Errorf(CodeConflict, "backup #%d is %s; cancel it or let it finish first", b.ID, b.Status)
	}
	if err := h.backupInUse(r, b.ID); err != nil {
		return b, err
	}
	// A full backup's objects are its parts' (the database part with its manifest and global objects, the
	// media part): they go with it, as retention deletes them (jobs.ApplyRetention).
	kids, err := h.Q.BackupListChildren(r.Context(), &b.ID)
	if err != nil {
		return b, err
	}
	for _, k := range kids {
		if views.InFlight(k.Status) {
			return b, Errorf(CodeConflict, "backup #%d's part #%d is %s; cancel it or let it finish first", b.ID, k.ID, k.Status)
		}
		if err := h.backupInUse(r, k.ID); err != nil {
			return b, err
		}
	}
	for _, k := range kids {
		if k.StorageKey != "" && k.PrunedAt == nil {
			if err := storage.DeleteArtifact(r.Context(), h.Store, k.StorageKey); err != nil {
				return b, err
			}
		}
		if _, err := h.Q.BackupMarkPruned(r.Context(), k.ID); err != nil {
			return b, err
		}
	}
	if b.StorageKey != "" && b.PrunedAt == nil {
		if err := storage.DeleteArtifact(r.Context(), h.Store, b.StorageKey); err != nil {
			return b, err
		}
	}
	wasPruned := b.PrunedAt != nil
	b, err = h.Q.BackupMarkPruned(r.Context(), b.ID)
	if err != nil {
		return b, err
	}
	if !wasPruned {
		parts := make([]int64, len(kids))
		for i, k := range kids {
			parts[i] = k.ID
		}
		h.audit(r, "backup.delete", backupTarget(b.ID), map[string]any{"storage_key": b.StorageKey, "parts": parts})
	}
	return b, nil
}

// backupInUse refuses while a verification or restore of the backup is queued or running.
func (h *Handlers) backupInUse(r *http.Request, id int64) error {
	vs, err := h.Q.VerificationListByBackup(r.Context(), id)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if views.InFlight(v.Status) {
			return Errorf(CodeConflict, "backup #%d is being verified (verification #%d); try again when it ends", id, v.ID)
		}
	}
	rs, err := h.Q.RestoreListByBackup(r.Context(), id)
	if err != nil {
		return err
	}
	for _, x := range rs {
		if views.InFlight(x.Status) {
			return Errorf(CodeConflict, "backup #%d is being restored (restore #%d); try again when it ends", id, x.ID)
		}
	}
	return nil
}

// backupDownload streams the stored artifact exactly as stored (encrypted; decrypting needs the offline age
// identity), and audits the download before the first byte leaves.
func (h *Handlers) backupDownload(w http.ResponseWriter, r *http.Request) error {
	b, err := h.backupFromPath(r)
	if err != nil {
		return err
	}
	switch {
	case b.PrunedAt != nil:
		return Errorf(CodeNotFound, "backup #%d was pruned; its artifact no longer exists", b.ID)
	case b.StorageKey == "":
		return Errorf(CodeNotFound, "backup #%d has no stored artifact (status %s)", b.ID, b.Status)
	}
	info, err := h.Store.Stat(r.Context(), b.StorageKey)
	if err != nil {
		return notFoundStorage(err, b.ID)
	}
	rc, err := h.Store.Open(r.Context(), b.StorageKey)
	if err != nil {
		return notFoundStorage(err, b.ID)
	}
	defer rc.Close()
	if err := h.audit(r, "backup.download", backupTarget(b.ID), map[string]any{"storage_key": b.StorageKey, "bytes": info.Size}); err != nil {
		return err // not one byte leaves unrecorded
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(b.StorageKey)}))
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	noStore(w)
	if _, err := io.Copy(w, rc); err != nil {
		h.Log.Warn("download interrupted", "backup_id", b.ID, "error", err)
	}
	return nil
}

// notFoundStorage maps a missing stored object to 404; anything else stays an internal error.
func notFoundStorage(err error, id int64) error {
	if errors.Is(err, storage.ErrNotFound) {
		return Errorf(CodeNotFound, "backup #%d's artifact is missing from storage", id)
	}
	return err
}
