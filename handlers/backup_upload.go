package handlers

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// maxManifest bounds the manifest part of an upload; real manifests are kilobytes.
const maxManifest = 16 << 20

func (h *Handlers) backupUploadPage(w http.ResponseWriter, r *http.Request) error {
	return views.UploadPage(views.UploadVM{Chrome: h.chrome(r, "Upload a backup", "backups"), MaxBytes: h.Cfg.UploadMaxBytes}).Render(r.Context(), w)
}

// backupUpload is the upload form: success goes to the new backup's page, a refusal re-renders the form.
func (h *Handlers) backupUpload(w http.ResponseWriter, r *http.Request) error {
	b, err := h.receiveUpload(w, r)
	if err != nil {
		e := h.asError(r, err)
		w.WriteHeader(status(e.Code))
		return views.UploadPage(views.UploadVM{Chrome: h.chrome(r, "Upload a backup", "backups"),
			MaxBytes: h.Cfg.UploadMaxBytes, Error: e.Message}).Render(r.Context(), w)
	}
	http.Redirect(w, r, "/backups/"+strconv.FormatInt(b.ID, 10), http.StatusSeeOther)
	return nil
}

// apiBackupUpload takes multipart/form-data: an optional "manifest" part (required for .dump.zst.age, sent
// before the file) and the "file" part. 201 with the new backup; checksum and archive verification follow.
func (h *Handlers) apiBackupUpload(w http.ResponseWriter, r *http.Request) error {
	b, err := h.receiveUpload(w, r)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/backups/"+strconv.FormatInt(b.ID, 10))
	writeJSON(w, http.StatusCreated, b)
	return nil
}

// receiveUpload streams the multipart body straight into validation and storage: the size is checked from
// Content-Length and the type from the name and first bytes before anything is stored.
func (h *Handlers) receiveUpload(w http.ResponseWriter, r *http.Request) (queries.Backup, error) {
	limit := h.Cfg.UploadMaxBytes
	if r.ContentLength > limit+maxManifest {
		return h.refuseUpload(r, "", Errorf(CodeTooLarge, "the upload is %d bytes; the limit is %d (UPLOAD_MAX_BYTES)", r.ContentLength, limit))
	}
	r.Body = http.MaxBytesReader(w, io.NopCloser(withProgressDeadline(w, r.Body)), limit+maxManifest)
	mr, err := r.MultipartReader()
	if err != nil {
		return queries.Backup{}, Errorf(CodeBadRequest, "send multipart/form-data with a \"file\" part")
	}
	var manifest *backup.Manifest
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return h.refuseUpload(r, "", FieldError("file", "choose a file to upload"))
		} else if err != nil {
			return queries.Backup{}, Errorf(CodeBadRequest, "malformed multipart body: %v", err)
		}
		switch part.FormName() {
		case "manifest":
			raw, err := io.ReadAll(io.LimitReader(part, maxManifest))
			if err == nil && len(raw) > 0 {
				manifest, err = backup.ParseManifest(raw)
			}
			if err != nil {
				return h.refuseUpload(r, "", FieldError("manifest", "the manifest is not valid JSON: %v", err))
			}
		case "file":
			return h.storeUpload(r, part.FileName(), part, manifest)
		}
	}
}

func (h *Handlers) storeUpload(r *http.Request, name string, body io.Reader, manifest *backup.Manifest) (queries.Backup, error) {
	typ, err := backup.UploadType(name)
	if err != nil {
		return h.refuseUpload(r, name, FieldError("file", "%s", err.Error()))
	}
	pgRestore, err := h.Cfg.PGClients.Newest(r.Context(), "pg_restore")
	if err != nil {
		return queries.Backup{}, err
	}
	p := principalFrom(r.Context())
	b, err := jobs.Upload(r.Context(), h.Pool, h.River, body, jobs.UploadRequest{Filename: name, Type: typ, Manifest: manifest,
		MaxBytes: h.Cfg.UploadMaxBytes, CreatedBy: p.UserID, Store: h.Store, Keys: h.Keys, PGRestore: pgRestore.Path})
	var ue *backup.UploadError
	var me *http.MaxBytesError
	switch {
	case errors.Is(err, backup.ErrTooLarge) || errors.As(err, &me):
		return h.refuseUpload(r, name, Errorf(CodeTooLarge, "%s is larger than the upload limit of %d bytes (UPLOAD_MAX_BYTES)", name, h.Cfg.UploadMaxBytes))
	case errors.As(err, &ue):
		return h.refuseUpload(r, name, FieldError("file", "%s refused: %s", name, ue.Error()))
	case err != nil:
		return b, err
	}
	h.audit(r, "backup.upload", backupTarget(b.ID), map[string]any{"filename": name, "type": typ, "bytes": b.BytesRead, "sha256": b.Sha256})
	return b, nil
}

// refuseUpload audits a refused upload (who tried to put what into the catalog) and returns the refusal.
func (h *Handlers) refuseUpload(r *http.Request, name string, e *Error) (queries.Backup, error) {
	h.auditRefusal(r, "backup.upload_refused", "", map[string]any{"filename": name, "reason": e.Message})
	return queries.Backup{}, e
}
