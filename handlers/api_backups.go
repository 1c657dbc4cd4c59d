package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

var (
	backupKinds    = jobs.BackupKinds
	backupStatuses = jobs.BackupStatuses
)

// apiBackupList is GET /api/v1/backups: filters kind, status, since, until (RFC 3339), limit, and an opaque
// cursor; next_cursor is empty on the last page.
func (h *Handlers) apiBackupList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return FieldError("limit", "limit must be a whole number from 1 to 500")
		}
		limit = n
	}
	p := queries.BackupListParams{Lim: int32(limit + 1)}
	for _, f := range []struct {
		name    string
		dst     **string
		allowed []string
	}{{"kind", &p.Kind, backupKinds}, {"status", &p.Status, backupStatuses}} {
		if v := q.Get(f.name); v != "" {
			if !slices.Contains(f.allowed, v) {
				return FieldError(f.name, "%s must be one of %v", f.name, f.allowed)
			}
			*f.dst = &v
		}
	}
	for _, f := range []struct {
		name string
		dst  **time.Time
	}{{"since", &p.Since}, {"until", &p.Until}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return FieldError(f.name, "%s must be an RFC 3339 time such as 2026-11-25T02:00:00Z", f.name)
			}
			*f.dst = &t
		}
	}
	if c := q.Get("cursor"); c != "" {
		at, id, err := decodeCursor(c)
		if err != nil {
			return FieldError("cursor", "invalid cursor; pass next_cursor from the previous page unchanged")
		}
		p.BeforeAt, p.BeforeID = &at, &id
	}
	// The parameters come from the query string alone, so it keys the shared read.
	rows, err := coalesced(r.Context(), &h.reads, "api-backups?"+q.Encode(), func(ctx context.Context) ([]queries.Backup, error) {
		return h.Q.BackupList(ctx, p)
	})
	if err != nil {
		return err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].QueuedAt, rows[limit-1].ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"backups": rows, "next_cursor": next})
	return nil
}

// BackupCreateRequest is the body of POST /api/v1/backups.
type BackupCreateRequest struct {
	Kind string `json:"kind"`
}

// apiBackupCreate enqueues a backup: 202 with the new backup, or 200 with the one of that kind already queued
// or running (only one per kind runs at a time).
func (h *Handlers) apiBackupCreate(w http.ResponseWriter, r *http.Request) error {
	var req BackupCreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !slices.Contains(backupKinds, req.Kind) {
		return FieldError("kind", "kind must be one of %v", backupKinds)
	}
	p := principalFrom(r.Context())
	b, existing, err := jobs.EnqueueBackup(r.Context(), h.Pool, h.River, h.Cfg,
		jobs.BackupRequest{Kind: req.Kind, Trigger: "api", CreatedBy: p.UserID})
	if errors.Is(err, jobs.ErrJobStillActive) {
		return Errorf(CodeConflict, "%s", err.Error())
	} else if err != nil {
		return err
	}
	code := http.StatusAccepted
	if existing {
		code = http.StatusOK
	} else {
		h.audit(r, "backup.create", backupTarget(b.ID), map[string]string{"kind": b.Kind, "trigger": "api"})
	}
	w.Header().Set("Location", "/api/v1/backups/"+strconv.FormatInt(b.ID, 10))
	writeJSON(w, code, b)
	return nil
}

func (h *Handlers) apiBackupGet(w http.ResponseWriter, r *http.Request) error {
	b, err := h.backupFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (h *Handlers) backupFromPath(r *http.Request) (queries.Backup, error) {
	id, err := pathID(r)
	if err != nil {
		return queries.Backup{}, err
	}
	b, err := h.Q.BackupGet(r.Context(), id)
	return b, NotFound(err, "backup")
}

func backupTarget(id int64) string { return "backup:" + strconv.FormatInt(id, 10) }
