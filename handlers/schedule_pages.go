package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) scheduleList(w http.ResponseWriter, r *http.Request) error {
	rows, err := h.Q.ScheduleList(r.Context())
	if err != nil {
		return err
	}
	vm := views.ScheduleListVM{Chrome: h.chrome(r, "Schedules", "schedules"), Rows: rows,
		LastRun: map[int64]queries.BackupLatestPerScheduleRow{}}
	last, err := h.Q.BackupLatestPerSchedule(r.Context())
	if err != nil {
		return err
	}
	for _, b := range last {
		vm.LastRun[b.ScheduleID] = b
	}
	if saved, err := strconv.ParseInt(r.URL.Query().Get("saved"), 10, 64); err == nil {
		for _, s := range rows {
			if s.ID == saved {
				vm.Saved = s.Name
			}
		}
	}
	return views.ScheduleListPage(vm).Render(r.Context(), w)
}

// scheduleNew shows an empty form with the clinic's usual defaults.
func (h *Handlers) scheduleNew(w http.ResponseWriter, r *http.Request) error {
	in := schedule.Input{Kind: "database", Active: true, VerifyLevel: "checksum",
		Spec:   schedule.Spec{Cadence: "daily", TimeOfDay: "02:00", DayOfMonth: 1, Timezone: schedule.DefaultTimezone},
		Policy: schedule.Policy{KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}}
	return h.renderScheduleForm(w, r, 0, in, nil, http.StatusOK)
}

func (h *Handlers) scheduleEdit(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.renderScheduleForm(w, r, s.ID, schedule.FromRow(s), nil, http.StatusOK)
}

// scheduleSave handles the form's POST (create at /schedules, update at /schedules/{id}); bad fields re-render
// the form with each message next to its field and nothing lost.
func (h *Handlers) scheduleSave(w http.ResponseWriter, r *http.Request) error {
	var id int64
	if raw := r.PathValue("id"); raw != "" {
		s, err := h.scheduleFromPath(r.Context(), raw)
		if err != nil {
			return err
		}
		id = s.ID
	}
	in, errs := scheduleFromForm(r)
	if len(errs) == 0 {
		s, err := h.saveSchedule(r.Context(), id, in)
		if err == nil {
			action := map[bool]string{true: "schedule.create", false: "schedule.update"}[id == 0]
			h.audit(r, action, scheduleTarget(s.ID), in)
			http.Redirect(w, r, "/schedules?saved="+strconv.FormatInt(s.ID, 10), http.StatusSeeOther)
			return nil
		}
		if !errors.As(err, &errs) {
			return err
		}
	}
	return h.renderScheduleForm(w, r, id, in, errs, http.StatusUnprocessableEntity)
}

func (h *Handlers) renderScheduleForm(w http.ResponseWriter, r *http.Request, id int64, in schedule.Input, errs schedule.Errors, code int) error {
	title := "New schedule"
	if id != 0 {
		title = "Schedule " + in.Name
	}
	vm := views.ScheduleFormVM{Chrome: h.chrome(r, title, "schedules"), ID: id, In: in, Errors: errs, Preview: h.preview(r, id, in, errs)}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.ScheduleFormPage(vm).Render(r.Context(), w)
}

func (h *Handlers) scheduleToggle(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if s, err = h.toggleSchedule(r.Context(), s); err != nil {
		return err
	}
	h.audit(r, "schedule.toggle", scheduleTarget(s.ID), map[string]bool{"active": s.Active})
	http.Redirect(w, r, "/schedules", http.StatusSeeOther)
	return nil
}

// scheduleRun is the page's "Run now": it shows the backup it started, or the one of that kind already running.
func (h *Handlers) scheduleRun(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := h.runSchedule(r, s, "manual")
	if errors.Is(err, jobs.ErrJobStillActive) || errors.Is(err, jobs.ErrNothingToDrill) {
		return Errorf(CodeConflict, "%s", err.Error())
	} else if err != nil {
		return err
	}
	if !f.Existing {
		h.audit(r, "schedule.run", scheduleTarget(s.ID), map[string]int64{"backup_id": f.Backup.ID})
	}
	if f.Backup.ID == 0 {
		http.Redirect(w, r, "/schedules", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/backups/"+strconv.FormatInt(f.Backup.ID, 10), http.StatusSeeOther)
	return nil
}

func (h *Handlers) scheduleDelete(w http.ResponseWriter, r *http.Request) error {
	s, err := h.scheduleFromPath(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := h.Q.ScheduleDelete(r.Context(), s.ID); err != nil {
		return NotFound(err, "schedule")
	}
	h.audit(r, "schedule.delete", scheduleTarget(s.ID), map[string]string{"name": s.Name})
	http.Redirect(w, r, "/schedules", http.StatusSeeOther)
	return nil
}
