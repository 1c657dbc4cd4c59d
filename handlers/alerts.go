package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// alertsPage lists open and recent alerts and the e-mail log.
func (h *Handlers) alertsPage(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.alertsVM(r)
	if err != nil {
		return err
	}
	return views.AlertsPage(vm).Render(r.Context(), w)
}

func (h *Handlers) alertsVM(r *http.Request) (views.AlertsVM, error) {
	vm := views.AlertsVM{Chrome: h.chrome(r, "Alerts", "alerts")}
	rows, err := h.Q.AlertList(r.Context(), queries.AlertListParams{Lim: 100})
	if err != nil {
		return vm, err
	}
	for _, a := range rows {
		vm.Alerts = append(vm.Alerts, views.AlertRowVM{AlertListRow: a, Details: alert.ParseDetails(a.Details),
			Link: alert.LinkOf(a.Subject, a.Details), Silent: alert.Silent(a.Rule)})
	}
	if vm.Emails, err = h.Q.EmailList(r.Context(), 50); err != nil {
		return vm, err
	}
	vm.Email, err = recovery.Email(r.Context(), h.Q, h.Cfg, h.Now())
	return vm, err
}

// alertsTestEmail is the page's "Send test e-mail" form: a bad address re-renders the form with the message.
func (h *Handlers) alertsTestEmail(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	to, addrErr := mail.CheckAddress(r.PostForm.Get("email"))
	if addrErr != nil {
		vm, err := h.alertsVM(r)
		if err != nil {
			return err
		}
		vm.TestTo, vm.TestError = r.PostForm.Get("email"), addrErr.Error()
		w.WriteHeader(http.StatusUnprocessableEntity)
		return views.AlertsPage(vm).Render(r.Context(), w)
	}
	row, err := h.sendTestEmail(r, to, "")
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/alerts#email-"+strconv.FormatInt(row.ID, 10), http.StatusSeeOther)
	return nil
}

// sendTestEmail records the test message and its delivery job (the alert path) and audits it.
func (h *Handlers) sendTestEmail(r *http.Request, to, subject string) (queries.Email, error) {
	ctx := r.Context()
	msg, err := alert.TestMessage(ctx, h.Q, h.Cfg, to, subject, h.Now())
	if err != nil {
		return queries.Email{}, err
	}
	row, err := jobs.EnqueueEmail(ctx, &jobs.Deps{Pool: h.Pool, Cfg: h.Cfg, Now: h.Now}, h.River, msg, mail.TemplateTest, nil)
	if err != nil {
		return row, err
	}
	h.audit(r, "email.test", to, map[string]any{"email_id": row.ID, "provider": row.Provider})
	return row, nil
}

// outbox shows development e-mail; ?id= selects one message, otherwise the newest is shown.
func (h *Handlers) outbox(w http.ResponseWriter, r *http.Request) error {
	vm := views.OutboxVM{Chrome: h.chrome(r, "Outbox", "alerts"), Configured: h.Cfg.EmailConfigured()}
	var err error
	if vm.Emails, err = h.Q.EmailListOutbox(r.Context(), 100); err != nil {
		return err
	}
	if v := r.URL.Query().Get("id"); v != "" {
		id, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			return Errorf(CodeNotFound, "no such e-mail %q", v)
		}
		e, err := outboxEmail(r.Context(), h.Q, id)
		if err != nil {
			return err
		}
		vm.Selected = &e
	} else if len(vm.Emails) > 0 {
		vm.Selected = &vm.Emails[0]
	}
	return views.OutboxPage(vm).Render(r.Context(), w)
}

// outboxEmail finds an outbox message; SendGrid messages are not shown here (they left the building).
func outboxEmail(ctx context.Context, q *queries.Queries, id int64) (queries.Email, error) {
	e, err := q.EmailGet(ctx, id)
	if err != nil {
		return e, NotFound(err, "e-mail")
	}
	if e.Provider != "outbox" {
		return e, Errorf(CodeNotFound, "e-mail #%d was sent through SendGrid, not kept in the outbox", id)
	}
	return e, nil
}
