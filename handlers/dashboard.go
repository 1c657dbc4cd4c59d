package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) dashboard(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.dashboardVM(r)
	if err != nil {
		return err
	}
	return views.DashboardPage(vm).Render(r.Context(), w)
}

// dashboardLive is the HTMX partial the dashboard polls while something runs.
func (h *Handlers) dashboardLive(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.dashboardVM(r)
	if err != nil {
		return err
	}
	return views.DashboardLive(vm).Render(r.Context(), w)
}

// dashboardVM is the dashboard for this caller: the shared state of the clinic (read once for all callers
// waiting at the same moment; see readCoalescer) in this caller's chrome.
func (h *Handlers) dashboardVM(r *http.Request) (views.DashboardVM, error) {
	vm, err := coalesced(r.Context(), &h.reads, "dashboard", h.dashboardState)
	vm.Chrome = h.chrome(r, "Dashboard", "dashboard")
	return vm, err
}

// dashboardState reads everything on the dashboard but the chrome; nothing in it depends on who asks. The
// headline is the recoverability state, the same one /health, /readyz, the API and monitor-backups render.
func (h *Handlers) dashboardState(ctx context.Context) (views.DashboardVM, error) {
	var vm views.DashboardVM
	var err error
	if vm.State, err = h.recoveryState(ctx, nil); err != nil {
		return vm, err
	}
	if vm.LastByKind, err = h.Q.BackupLatestByKind(ctx); err != nil {
		return vm, err
	}
	for _, b := range vm.LastByKind {
		vm.Live = vm.Live || views.InFlight(b.Status)
	}
	all, err := h.Q.ScheduleList(ctx)
	if err != nil {
		return vm, err
	}
	var schedules []queries.Schedule
	for _, s := range all {
		if s.Active && s.Cadence != "manual" { // what the scheduler fires (ScheduleListActive's rule)
			schedules = append(schedules, s)
		} else if !s.Active {
			vm.Paused = append(vm.Paused, s)
		}
	}
	vm.NextRuns = nextRuns(schedules, 5)
	if vm.OpenAlerts, err = h.Q.AlertListOpen(ctx); err != nil {
		return vm, err
	}
	vm.Storage = h.storageVM(ctx)
	vm.Config = h.configItems(ctx)
	return vm, nil
}

// recoveryState is recovery.Evaluate for the web process. Storage is read only when st is given (the health
// page): the dashboard and probes must never walk storage on a page load.
func (h *Handlers) recoveryState(ctx context.Context, st storage.Store) (recovery.State, error) {
	return recovery.Evaluate(ctx, recovery.Inputs{Q: h.Q, Store: st, Cfg: h.Cfg, Now: h.Now()})
}

func nextRuns(schedules []queries.Schedule, n int) []views.NextRunVM {
	var out []views.NextRunVM
	for _, s := range schedules {
		if s.NextRunAt != nil {
			out = append(out, views.NextRunVM{ScheduleID: s.ID, Name: s.Name, Kind: s.Kind, At: *s.NextRunAt})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// storageVM shows storage use as last measured by the health metrics job (every 15 min and on demand), so a
// page load never walks the storage tree or lists a bucket; before the first measurement it asks storage once.
func (h *Handlers) storageVM(ctx context.Context) views.StorageVM {
	vm := views.StorageVM{Where: h.Store.String()}
	used, err := h.Q.HealthMetricLatestOf(ctx, "storage_used_bytes")
	if err == nil {
		vm.Used, vm.MeasuredAt = int64(used.Value), used.RecordedAt
		if free, err := h.Q.HealthMetricLatestOf(ctx, "storage_free_bytes"); err == nil {
			var d struct{ Total int64 }
			if json.Unmarshal(free.Details, &d) == nil {
				vm.Free, vm.Total = int64(free.Value), d.Total
			}
		}
		return vm
	}
	u, err := h.Store.Usage(ctx)
	if err != nil {
		h.Log.Warn("storage usage failed", "error", err)
		vm.Err = "Storage could not be read; see the server log."
		return vm
	}
	vm.Used, vm.Total, vm.Free = u.UsedBytes, u.TotalBytes, u.FreeBytes
	return vm
}

// configItems is the configuration panel: the checks of `pisbackup preflight` (the same report, refreshed in
// the background so the page never waits), then e-mail delivery and where backups are kept. Each line says
// what is set up or what is wrong and how to fix it.
func (h *Handlers) configItems(ctx context.Context) []views.ConfigItemVM {
	var items []views.ConfigItemVM
	if h.Preflight != nil {
		r, ok := h.Preflight.Latest()
		if !ok {
			items = append(items, views.ConfigItemVM{Name: "Preflight", State: "checks are running; reload in a few seconds"})
		}
		for _, c := range r.Checks {
			it := views.ConfigItemVM{Name: c.Title, OK: c.OK && !c.Warn && !c.Skipped, Off: c.Skipped, State: c.Detail}
			if !c.OK {
				it.State, it.Detail = c.Problem, "Fix: "+c.Fix
			}
			items = append(items, it)
		}
	}
	off := views.ConfigItemVM{Name: "Off-site storage", OK: strings.HasPrefix(h.Cfg.BackupStorage, "s3://")}
	if off.OK {
		off.State = "S3-compatible bucket"
	} else {
		off.State, off.Detail = "backups are on this machine's disk", "set BACKUP_STORAGE=s3://bucket/prefix for an off-site copy"
	}
	return append(items, h.emailItem(ctx), off)
}

// emailItem is the e-mail line: alerts must reach someone, so a key without recipients, or a key SendGrid
// refuses, is as much a problem as no key at all.
func (h *Handlers) emailItem(ctx context.Context) views.ConfigItemVM {
	mail := views.ConfigItemVM{Name: "E-mail"}
	s, err := recovery.Email(ctx, h.Q, h.Cfg, h.Now())
	switch {
	case err != nil:
		h.Log.Warn("e-mail status failed", "error", err)
		mail.State, mail.FixURL, mail.FixLabel = "state could not be read; see the server log", "/alerts", "e-mail status"
		return mail
	case !s.Configured:
		mail.State, mail.FixURL, mail.FixLabel = "not configured", "/outbox", "open outbox"
	case s.Recipients == 0:
		mail.State, mail.FixURL, mail.FixLabel = "no recipients", "/profile", "opt in to alerts"
	case s.Failing:
		mail.State, mail.FixURL, mail.FixLabel = "delivery failing", "/alerts", "e-mail status"
	default:
		mail.OK, mail.State = true, "SendGrid"
	}
	mail.Detail = s.Problem()
	return mail
}
