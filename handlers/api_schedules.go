package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/jobs"
)

// ScheduleRequest is the body of POST /api/v1/schedules and PUT /api/v1/schedules/{id}: every field of the
// schedule (PUT replaces the whole schedule). active defaults to true.
type ScheduleRequest struct {
	schedule.Input
	Active *bool `json:"active"`
}

func (req ScheduleRequest) input() schedule.Input {
	in := req.Input
	in.Active = req.Active == nil || *req.Active
	return in
}

// scheduleExample documents the request body in openapi.json.
var scheduleExample = ScheduleRequest{Input: schedule.Input{Name: "Nightly database", Kind: "database",
	Spec:   schedule.Spec{Cadence: "daily", TimeOfDay: "02:00", Timezone: "Asia/Manila"},
	Policy: schedule.Policy{KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}, VerifyLevel: "checksum"}}

func (h *Handlers) apiScheduleList(w http.ResponseWriter, r *http.Request) error {
	rows, err := h.Q.ScheduleList(r.Context())
	if err != nil {
		return err
	}
	out := make([]ScheduleJSON, 0, len(rows))
	for _, s := range rows {
		out = append(out, h.scheduleJSON(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": out})
	return nil
}

func (h *Handlers) apiScheduleGet(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.scheduleJSON(s))
	return nil
}

// apiScheduleSave creates (POST) or replaces (PUT) a schedule; 422 names the first bad field.
func (h *Handlers) apiScheduleSave(w http.ResponseWriter, r *http.Request) error {
	var id int64
	if r.Method == http.MethodPut {
		s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		id = s.ID
	}
	var req ScheduleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch dry := r.URL.Query().Get("dry_run"); dry {
	case "true", "1":
		return h.apiScheduleDryRun(w, r, id, req.input())
	case "", "false", "0":
	default:
		return FieldError("dry_run", "dry_run must be true or false, got %q", dry)
	}
	s, err := h.saveSchedule(r.Context(), id, req.input())
	if err != nil {
		return fieldErr(err)
	}
	code, action := http.StatusOK, "schedule.update"
	if id == 0 {
		code, action = http.StatusCreated, "schedule.create"
		w.Header().Set("Location", "/api/v1/schedules/"+strconv.FormatInt(s.ID, 10))
	}
	h.audit(r, action, scheduleTarget(s.ID), req.input())
	writeJSON(w, code, h.scheduleJSON(s))
	return nil
}

func (h *Handlers) apiScheduleDelete(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := h.Q.ScheduleDelete(r.Context(), s.ID); err != nil {
		return NotFound(err, "schedule")
	}
	h.audit(r, "schedule.delete", scheduleTarget(s.ID), map[string]string{"name": s.Name})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handlers) apiScheduleToggle(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if s, err = h.toggleSchedule(r.Context(), s); err != nil {
		return err
	}
	h.audit(r, "schedule.toggle", scheduleTarget(s.ID), map[string]bool{"active": s.Active})
	writeJSON(w, http.StatusOK, h.scheduleJSON(s))
	return nil
}

// apiScheduleRun is "run now": 202 with the new backup, or 200 with the backup of that kind already running.
func (h *Handlers) apiScheduleRun(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := h.runSchedule(r, s, "api")
	if errors.Is(err, jobs.ErrJobStillActive) || errors.Is(err, jobs.ErrNothingToDrill) {
		return Errorf(CodeConflict, "%s", err.Error())
	} else if err != nil {
		return err
	}
	code := http.StatusOK
	if !f.Existing {
		code = http.StatusAccepted
		h.audit(r, "schedule.run", scheduleTarget(s.ID), map[string]int64{"backup_id": f.Backup.ID})
	}
	writeJSON(w, code, map[string]any{"backup": f.Backup, "existing": f.Existing, "drill": f.Drill})
	return nil
}

// ScheduleDryRunJSON is the answer to ?dry_run=true: what saving the body would do, with nothing saved.
type ScheduleDryRunJSON struct {
	DryRun   bool        `json:"dry_run"`
	NextRuns []time.Time `json:"next_runs"`
	// WouldDelete is what retention would delete now under the body's policy (empty for a new schedule: it has
	// no backups yet); Kept counts the backups it keeps.
	WouldDelete []schedule.Decision `json:"would_delete"`
	Kept        int                 `json:"kept"`
}

// apiScheduleDryRun validates in (422 names the first bad field, as a real save would) and previews it.
func (h *Handlers) apiScheduleDryRun(w http.ResponseWriter, r *http.Request, id int64, in schedule.Input) error {
	c, err := in.Validate()
	if err != nil {
		return fieldErr(err)
	}
	out := ScheduleDryRunJSON{DryRun: true, NextRuns: []time.Time{}, WouldDelete: []schedule.Decision{}}
	if in.Active {
		out.NextRuns = append(out.NextRuns, c.NextN(h.Now(), 5)...)
	}
	if id != 0 {
		plan, err := jobs.PreviewRetention(r.Context(), h.jobDeps(), id, &in)
		if err != nil {
			return fieldErr(err)
		}
		out.WouldDelete = append(out.WouldDelete, plan.Prunes()...)
		out.Kept = len(plan.Decisions) - len(plan.Prunes())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
