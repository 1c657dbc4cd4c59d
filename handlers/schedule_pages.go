package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) scheduleList(w http.ResponseWriter, r *http.Request) error {
	rows, err := h.Q.ScheduleList(r.Context())
	if err != nil {
		return err
	}
	return views.ScheduleListPage(views.ScheduleListVM{Chrome: h.chrome(r, "Schedules", "schedules"), Rows: rows}).Render(r.Context(), w)
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
			http.Redirect(w, r, "/schedules", http.StatusSeeOther)
			return nil
		}
		if !errors.As(err, &errs) {
			return err
		}
	}
	return h.renderScheduleForm(w, r, id, in, errs, http.StatusUnprocessableEntity)
}

// schedulePreview is the HTMX partial: the next five runs for whatever the form holds right now.
func (h *Handlers) schedulePreview(w http.ResponseWriter, r *http.Request) error {
	in, errs := scheduleFromForm(r)
	return views.SchedulePreview(h.preview(r, in, errs)).Render(r.Context(), w)
}

func (h *Handlers) preview(r *http.Request, in schedule.Input, errs schedule.Errors) views.SchedulePreviewVM {
	vm := views.SchedulePreviewVM{Chrome: h.chrome(r, "", ""), TZ: in.Timezone}
	c, err := schedule.Parse(in.Spec)
	var perrs schedule.Errors
	switch {
	case errors.As(err, &perrs):
		vm.Error = perrs.Error()
	case len(errs) > 0 && (errs.Field("day_of_month") != "" || errs.Field("weekday") != ""):
		vm.Error = errs.Error()
	case err == nil && in.Active:
		vm.Runs = c.NextN(h.Now(), 5)
	}
	return vm
}

func (h *Handlers) renderScheduleForm(w http.ResponseWriter, r *http.Request, id int64, in schedule.Input, errs schedule.Errors, code int) error {
	title := "New schedule"
	if id != 0 {
		title = "Schedule " + in.Name
	}
	vm := views.ScheduleFormVM{Chrome: h.chrome(r, title, "schedules"), ID: id, In: in, Errors: errs, Preview: h.preview(r, in, errs)}
	if id != 0 {
		plan, err := jobs.PlanRetention(r.Context(), h.jobDeps(), id)
		if err != nil {
			h.Log.Warn("retention preview failed", "schedule_id", id, "error", err)
		}
		vm.WouldPrune = plan.Prunes()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return views.ScheduleFormPage(vm).Render(r.Context(), w)
}

// scheduleFromForm reads the form (query string for the preview's GET); numbers that are not numbers are
// field errors, reported with the rest by Validate.
func scheduleFromForm(r *http.Request) (schedule.Input, schedule.Errors) {
	_ = r.ParseForm()
	f := r.Form
	var errs schedule.Errors
	num := func(name string, def int) int {
		v := strings.TrimSpace(f.Get(name))
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, schedule.FieldError{Field: name, Message: fmt.Sprintf("%s must be a whole number, got %q", name, v)})
		}
		return n
	}
	in := schedule.Input{Name: f.Get("name"), Kind: f.Get("kind"), VerifyLevel: f.Get("verify_level"), Active: f.Get("active") == "true",
		Spec: schedule.Spec{Cadence: f.Get("cadence"), TimeOfDay: strings.TrimSpace(f.Get("time_of_day")), Weekday: num("weekday", 0),
			DayOfMonth: num("day_of_month", 1), CronExpr: f.Get("cron_expr"), Timezone: strings.TrimSpace(f.Get("timezone"))},
		Policy: schedule.Policy{KeepLast: num("keep_last", 0), KeepDaily: num("keep_daily", 0), KeepWeekly: num("keep_weekly", 0),
			KeepMonthly: num("keep_monthly", 0), MaxAgeDays: num("max_age_days", 0)}}
	if _, err := in.Validate(); err != nil {
		var v schedule.Errors
		if errors.As(err, &v) {
			for _, e := range v {
				if errs.Field(e.Field) == "" {
					errs = append(errs, e)
				}
			}
		}
	}
	return in, errs
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
	f, err := jobs.RunSchedule(r.Context(), h.jobDeps(), h.River, s, principalFrom(r.Context()).UserID)
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
