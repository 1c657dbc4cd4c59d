package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/queries"
)

// apiStatus is for uptime monitors: public and quick, so it says only whether the service answers and its
// database is reachable; nothing about backups, users or configuration.
func (h *Handlers) apiStatus(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.Pool.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "time": h.Now().UTC().Format(time.RFC3339)})
	return nil
}

// healthKind is the state of one kind of backup in /api/v1/health.
type healthKind struct {
	Latest     *queries.Backup `json:"latest"`
	LatestGood *queries.Backup `json:"latest_good"`
	// AgeSeconds is how old the newest good backup is; null when there is none.
	AgeSeconds *int64 `json:"latest_good_age_seconds"`
}

// apiHealth is the full picture for signed-in users: per-kind backup state, work in flight, open alerts,
// storage use, which integrations are configured (never their secrets) and the preflight report, whose
// failing checks make the status "degraded".
func (h *Handlers) apiHealth(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	kinds := map[string]*healthKind{}
	for _, k := range backupKinds {
		kinds[k] = &healthKind{}
	}
	latest, err := h.Q.BackupLatestByKind(ctx)
	if err != nil {
		return err
	}
	for i := range latest {
		if k, ok := kinds[latest[i].Kind]; ok {
			k.Latest = &latest[i]
		}
	}
	for name, k := range kinds {
		b, err := h.Q.BackupLatestGood(ctx, name)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		} else if err != nil {
			return err
		}
		k.LatestGood = &b
		if b.FinishedAt != nil {
			age := int64(h.Now().Sub(*b.FinishedAt).Seconds())
			k.AgeSeconds = &age
		}
	}
	running, err := h.Q.BackupListRunning(ctx)
	if err != nil {
		return err
	}
	alerts, err := h.Q.AlertListOpen(ctx)
	if err != nil {
		return err
	}
	out := map[string]any{
		"status": "ok", "time": h.Now().UTC(), "backups": kinds, "in_flight": len(running), "open_alerts": len(alerts),
		"configuration": map[string]any{
			"email": h.Cfg.EmailConfigured(), "cloudinary": h.Cfg.CloudinaryConfigured(),
			"encrypted": !h.Cfg.Unencrypted, "storage": h.storageName(),
		},
	}
	if h.Store != nil {
		if u, err := h.Store.Usage(ctx); err == nil {
			out["storage"] = map[string]int64{"used_bytes": u.UsedBytes, "total_bytes": u.TotalBytes, "free_bytes": u.FreeBytes}
		} else {
			h.Log.Warn("storage usage unavailable", "error", err)
		}
	}
	if len(alerts) > 0 {
		out["status"] = "degraded"
	}
	if h.Preflight != nil {
		// The report `pisbackup preflight` prints; a request waits for the first run, later ones get the
		// latest (refreshed every few minutes).
		pctx, cancel := context.WithTimeout(ctx, preflight.Timeout+5*time.Second)
		r, err := h.Preflight.Get(pctx)
		cancel()
		if err != nil {
			out["preflight"] = map[string]any{"ok": nil, "error": "the checks did not finish in time"}
			out["status"] = "degraded"
		} else {
			out["preflight"] = r
			if !r.OK {
				out["status"] = "degraded"
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) storageName() string {
	if h.Store == nil {
		return ""
	}
	return h.Store.String()
}
