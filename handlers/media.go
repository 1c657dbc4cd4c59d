package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// mediaPage is GET /media: configuration, the newest run (live), the ledger and the history.
func (h *Handlers) mediaPage(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.mediaVM(r)
	if err != nil {
		return err
	}
	return views.MediaPage(vm).Render(r.Context(), w)
}

// mediaLive is the media page's live region (MediaLive), polled by the page.
func (h *Handlers) mediaLive(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.mediaVM(r)
	if err != nil {
		return err
	}
	return views.MediaLive(vm).Render(r.Context(), w)
}

func (h *Handlers) mediaVM(r *http.Request) (views.MediaVM, error) {
	ctx := r.Context()
	vm := views.MediaVM{Chrome: h.chrome(r, "Media", "media"), MediaRoot: h.Cfg.MediaRoot,
		Configured: h.Cfg.CloudinaryConfigured()}
	if c, err := cloudinary.New(h.Cfg.CloudinaryURL); err == nil {
		vm.Cloud = c.CloudName()
	}
	runs, err := h.Q.MediaMigrationList(ctx, 20)
	if err != nil {
		return vm, err
	}
	vm.Runs = runs
	if len(runs) > 0 {
		cur := runs[0]
		vm.Current = &cur
		var det jobs.MigrationDetails
		_ = json.Unmarshal(cur.Details, &det)
		if det.Report != nil {
			for _, f := range det.Report.Folders {
				vm.Folders = append(vm.Folders, views.MediaFolderVM{Folder: f.Folder, Files: f.Files, Bytes: f.Bytes})
			}
		}
		vm.Notes = det.Notes
		if rep := det.Resolvability; rep != nil {
			vm.Columns, vm.Unresolved = []views.MediaColumnVM{}, rep.Unresolved+len(rep.MissingColumns)
			vm.NamingCheckedAt, vm.NamingNote = rep.CheckedAt, fmt.Sprintf("with prefix %q and tag %q.", rep.Prefix, rep.Tag)
			for _, c := range rep.Columns {
				cv := views.MediaColumnVM{Column: c.Column, ResourceType: c.ResourceType, Missing: c.Missing, Values: c.Values,
					InCloudinary: c.InCloudinary, Pending: c.Pending, UnresolvedN: c.UnresolvedCount}
				for _, u := range c.Unresolved {
					cv.Unresolved = append(cv.Unresolved, views.MediaUnresolvedVM{Value: u.Value, URL: u.URL, Reason: u.Reason, Fix: u.Fix})
				}
				vm.Columns = append(vm.Columns, cv)
			}
		}
		failed, err := h.Q.MediaAssetListFailedByRun(ctx, queries.MediaAssetListFailedByRunParams{RunID: &cur.ID, Lim: 100})
		if err != nil {
			return vm, err
		}
		for _, f := range failed {
			vm.Failures = append(vm.Failures, views.MediaFailureVM{Path: f.RelPath, Error: f.Error})
		}
	}
	counts, err := h.Q.MediaAssetCountByStatus(ctx)
	if err != nil {
		return vm, err
	}
	for _, c := range counts {
		vm.Ledger = append(vm.Ledger, views.MediaLedgerVM{Status: c.Status, N: c.N})
		if c.Status == "verified" || c.Status == "deleted" {
			vm.Mapped += int(c.N)
		}
	}
	return vm, nil
}

// mediaStart is the page's form: it starts a run (or reports the one in flight) and swaps in the live panel.
func (h *Handlers) mediaStart(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	req := MediaMigrationStartRequest{DryRun: r.PostForm.Get("dry_run") == "true",
		BackupFirst: r.PostForm.Get("backup_first") == "true", DeleteLocal: r.PostForm.Get("delete_local") == "true"}
	if v := r.PostForm.Get("concurrency"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return FieldError("concurrency", "concurrency must be a whole number from 1 to 64")
		}
		req.Concurrency = n
	}
	m, err := h.startMigration(r, req)
	if err != nil {
		return err
	}
	if !isHTMX(r) {
		http.Redirect(w, r, "/media", http.StatusSeeOther)
		return nil
	}
	setToast(w, fmt.Sprintf("Media %s #%d started.", views.MigrationKind(m), m.ID), "info")
	return h.mediaLive(w, r)
}

// startMigration validates a request, enqueues the run and audits it; a run in flight is a conflict.
func (h *Handlers) startMigration(r *http.Request, req MediaMigrationStartRequest) (queries.MediaMigration, error) {
	if req.Concurrency != 0 && (req.Concurrency < 1 || req.Concurrency > 64) {
		return queries.MediaMigration{}, FieldError("concurrency", "concurrency must be from 1 to 64")
	}
	if req.DryRun && req.DeleteLocal {
		return queries.MediaMigration{}, FieldError("delete_local", "a dry run changes nothing, so it cannot delete local files")
	}
	if !req.DryRun && !h.Cfg.CloudinaryConfigured() {
		return queries.MediaMigration{}, Errorf(CodeConflict, "Cloudinary is not configured; set CLOUDINARY_URL first (a dry run works without it)")
	}
	if req.DeleteLocal {
		// The job refuses too; asking first answers the operator now instead of with a failed run.
		rep, _, err := jobs.MediaResolvability(r.Context(), h.Cfg, h.Q)
		if err != nil {
			return queries.MediaMigration{}, Errorf(CodeConflict, "deleting local files is refused: %s", err.Error())
		}
		if !rep.OK() {
			return queries.MediaMigration{}, Errorf(CodeConflict, "deleting local files is refused: %s; see GET /api/v1/media/resolvability", rep.Summary())
		}
	}
	p := principalFrom(r.Context())
	m, err := jobs.EnqueueMediaMigration(r.Context(), h.Pool, h.River, jobs.MediaMigrationRequest{DryRun: req.DryRun,
		BackupFirst: req.BackupFirst, DeleteLocal: req.DeleteLocal, Concurrency: req.Concurrency, CreatedBy: p.UserID})
	if errors.Is(err, jobs.ErrMigrationActive) {
		return m, Errorf(CodeConflict, "media migration #%d is already %s", m.ID, m.Status)
	} else if err != nil {
		return m, err
	}
	h.audit(r, "media_migration.start", "media_migration:"+strconv.FormatInt(m.ID, 10), req)
	return m, nil
}

// mediaMapping serves the mapping as JSON or CSV, built from the ledger at request time.
func (h *Handlers) mediaMapping(w http.ResponseWriter, r *http.Request, format string) error {
	entries, err := mediamigration.Mapping(r.Context(), h.Q)
	if err != nil {
		return err
	}
	if err := h.audit(r, "media_mapping.download", "media_mapping", map[string]any{"format": format, "files": len(entries)}); err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", "attachment; filename=cloudinary-mapping."+format)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		return mediamigration.WriteCSV(w, entries)
	}
	w.Header().Set("Content-Type", "application/json")
	return mediamigration.WriteJSON(w, entries)
}

func (h *Handlers) mediaMappingJSON(w http.ResponseWriter, r *http.Request) error {
	return h.mediaMapping(w, r, "json")
}

func (h *Handlers) mediaMappingCSV(w http.ResponseWriter, r *http.Request) error {
	return h.mediaMapping(w, r, "csv")
}
