package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// MediaMigrationStartRequest is the body of POST /api/v1/media/migrations (and the page's form).
type MediaMigrationStartRequest struct {
	DryRun      bool `json:"dry_run"`
	BackupFirst bool `json:"backup_first"`
	DeleteLocal bool `json:"delete_local"`
	Concurrency int  `json:"concurrency,omitempty"`
}

// mediaMigrationJSON is a run with its plan, outcome and failed files, as the API returns it.
type mediaMigrationJSON struct {
	queries.MediaMigration
	Details  *jobs.MigrationDetails `json:"details"`
	Failures []mediaFailureJSON     `json:"failures,omitempty"`
}

type mediaFailureJSON struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

func (h *Handlers) apiMediaMigrationList(w http.ResponseWriter, r *http.Request) error {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return FieldError("limit", "limit must be a whole number from 1 to 500")
		}
		limit = n
	}
	rows, err := h.Q.MediaMigrationList(r.Context(), int32(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"migrations": rows})
	return nil
}

// apiMediaMigrationStart starts a run: 202 with the new run, 409 while another is queued or running.
func (h *Handlers) apiMediaMigrationStart(w http.ResponseWriter, r *http.Request) error {
	var req MediaMigrationStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	m, err := h.startMigration(r, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/media/migrations/"+strconv.FormatInt(m.ID, 10))
	writeJSON(w, http.StatusAccepted, m)
	return nil
}

func (h *Handlers) apiMediaMigrationGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	m, err := h.Q.MediaMigrationGet(r.Context(), id)
	if err != nil {
		return NotFound(err, "media migration")
	}
	out := mediaMigrationJSON{MediaMigration: m}
	if len(m.Details) > 0 {
		out.Details = &jobs.MigrationDetails{}
		_ = json.Unmarshal(m.Details, out.Details)
	}
	failed, err := h.Q.MediaAssetListFailedByRun(r.Context(), queries.MediaAssetListFailedByRunParams{RunID: &m.ID, Lim: 1000})
	if err != nil {
		return err
	}
	for _, f := range failed {
		out.Failures = append(out.Failures, mediaFailureJSON{Path: f.RelPath, Error: f.Error})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiMediaMapping is GET /api/v1/media/mapping?format=json|csv.
func (h *Handlers) apiMediaMapping(w http.ResponseWriter, r *http.Request) error {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return h.mediaMapping(w, r, "json")
	case "csv":
		return h.mediaMapping(w, r, "csv")
	default:
		return FieldError("format", "format must be json or csv")
	}
}

// apiMediaResolvability is GET /api/v1/media/resolvability: the per-column report, taken now from the clinic
// database and the ledger (the same report the CLI prints and a migration stores).
func (h *Handlers) apiMediaResolvability(w http.ResponseWriter, r *http.Request) error {
	rep, _, err := jobs.MediaResolvability(r.Context(), h.Cfg, h.Q)
	if err != nil {
		return Errorf(CodeConflict, "%s", err.Error())
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
