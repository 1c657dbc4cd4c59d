package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/verdict"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// staleGrace is added to a schedule's interval before its newest backup counts as overdue.
const staleGrace = 2 * time.Hour

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

// dashboardState reads everything on the dashboard but the chrome; nothing in it depends on who asks.
func (h *Handlers) dashboardState(ctx context.Context) (views.DashboardVM, error) {
	var vm views.DashboardVM
	in := verdict.Inputs{Now: h.Now(), StaleAfter: 24*time.Hour + staleGrace}
	var err error
	if vm.LastByKind, err = h.Q.BackupLatestByKind(ctx); err != nil {
		return vm, err
	}
	for _, b := range vm.LastByKind {
		vm.Live = vm.Live || views.InFlight(b.Status)
		if b.Kind == "database" {
			in.LastBackupAt, in.LastBackupStatus, in.LastBackupError = b.QueuedAt, b.Status, b.Error
		}
	}
	if good, err := h.Q.BackupLatestGood(ctx, "database"); err == nil {
		in.LastGoodAt = good.QueuedAt
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return vm, err
	}
	if p, err := h.Q.VerificationLatestDrillProven(ctx); err == nil {
		vm.ProvenBackupID = p.BackupID
		if p.BackupFinishedAt != nil {
			in.ProvenAt, vm.ProvenAt = *p.BackupFinishedAt, *p.BackupFinishedAt
		}
		if p.RtoMs != nil {
			in.ProvenRTO = time.Duration(*p.RtoMs) * time.Millisecond
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return vm, err
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
	in.StaleAfter = staleAfter(schedules, in.StaleAfter)
	vm.NextRuns = nextRuns(schedules, 5)
	if vm.OpenAlerts, err = h.Q.AlertListOpen(ctx); err != nil {
		return vm, err
	}
	in.OpenAlerts = len(vm.OpenAlerts)
	vm.Verdict = verdict.Compute(in)
	vm.Storage = h.storageVM(ctx)
	vm.Config = h.configItems(ctx)
	return vm, nil
}

// staleAfter is the shortest interval among active database-producing schedules plus grace: the deadline a
// daily schedule sets is a day, a weekly one a week. Without schedules a day is assumed.
func staleAfter(schedules []queries.Schedule, def time.Duration) time.Duration {
	best := time.Duration(0)
	for _, s := range schedules {
		if s.Kind != "database" && s.Kind != "full" {
			continue
		}
		var d time.Duration
		switch s.Cadence {
		case "daily":
			d = 24 * time.Hour
		case "weekly":
			d = 7 * 24 * time.Hour
		case "monthly":
			d = 31 * 24 * time.Hour
		default:
			d = 24 * time.Hour
		}
		if best == 0 || d < best {
			best = d
		}
	}
	if best == 0 {
		return def
	}
	return best + staleGrace
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
	s, err := alert.Email(ctx, h.Q, h.Cfg, h.Now())
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
