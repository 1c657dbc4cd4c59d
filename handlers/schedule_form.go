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

// schedulePreview is the HTMX partial: the next five runs for whatever the form holds right now.
// The form sends the schedule's id along, so the partial also shows what the typed policy would delete.
func (h *Handlers) schedulePreview(w http.ResponseWriter, r *http.Request) error {
	in, errs := scheduleFromForm(r)
	var id int64
	if raw := r.Form.Get("id"); raw != "" {
		s, err := h.scheduleFromPath(r.Context(), raw)
		if err != nil {
			return err
		}
		id = s.ID
	}
	return views.SchedulePreview(h.preview(r, id, in, errs)).Render(r.Context(), w)
}

// preview is the form's live partial for schedule id (0: a new one) as typed in in.
func (h *Handlers) preview(r *http.Request, id int64, in schedule.Input, errs schedule.Errors) views.SchedulePreviewVM {
	vm := views.SchedulePreviewVM{Chrome: h.chrome(r, "", ""), ID: id, TZ: in.Timezone}
	if msg := policyErrors(errs); msg != "" {
		vm.PolicyError = msg
	} else if id != 0 {
		plan, err := jobs.PreviewRetention(r.Context(), h.jobDeps(), id, &in)
		var perrs schedule.Errors
		switch {
		case errors.As(err, &perrs):
			vm.PolicyError = perrs.Error()
		case err != nil:
			h.Log.Warn("retention preview failed", "schedule_id", id, "error", err)
			vm.PolicyError = "the retention preview is unavailable right now; saving is still checked"
		default:
			vm.WouldPrune = plan.Prunes()
			vm.Kept = len(plan.Decisions) - len(vm.WouldPrune)
		}
	}
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

// policyErrors joins the messages of the retention fields in errs.
func policyErrors(errs schedule.Errors) string {
	var out schedule.Errors
	for _, e := range errs {
		if strings.HasPrefix(e.Field, "keep_") || e.Field == "max_age_days" {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return out.Error()
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
