package handlers

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/internal/spreadsheet"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

const auditPage = 100

// adminAudit is the audit log page: filters by actor, action prefix and date (in the clinic's time zone).
func (h *Handlers) adminAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := h.auditFilter(q, auditPage+1)
	if err != nil {
		return err
	}
	rows, err := h.Q.AuditSearch(r.Context(), p)
	if err != nil {
		return err
	}
	filters := url.Values{"actor": {q.Get("actor")}, "action": {q.Get("action")}, "from": {q.Get("from")}, "to": {q.Get("to")}}
	vm := views.AuditVM{Chrome: h.chrome(r, "Audit log", "admin"), Actor: q.Get("actor"), Action: q.Get("action"),
		From: q.Get("from"), To: q.Get("to"), CSVURL: "/admin/audit.csv?" + filters.Encode()}
	if len(rows) > auditPage {
		rows = rows[:auditPage]
		next := url.Values{}
		for k, v := range filters {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		vm.NextURL = "/admin/audit?" + next.Encode()
	}
	vm.Rows = rows
	return views.AuditPage(vm).Render(r.Context(), w)
}

// adminAuditCSV exports every event matching the filters, streamed page by page so a long history never
// sits in memory.
func (h *Handlers) adminAuditCSV(w http.ResponseWriter, r *http.Request) error {
	p, err := h.auditFilter(r.URL.Query(), 1000)
	if err != nil {
		return err
	}
	if err := h.audit(r, "audit.export", "audit_events", map[string]string{"filters": r.URL.RawQuery}); err != nil {
		return err // an export nobody can see in the log does not happen
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="pisbackup-audit-`+h.Now().UTC().Format("20060102-150405")+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time_utc", "actor", "actor_user_id", "actor_token_id", "action", "outcome", "target", "ip", "user_agent", "details"})
	for {
		rows, err := h.Q.AuditSearch(r.Context(), p)
		if err != nil {
			return err // headers are out; the truncated file ends here and the error is logged
		}
		for _, e := range rows {
			rec := []string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339), e.Actor,
				idStr(e.ActorUserID), idStr(e.ActorTokenID), e.Action, e.Outcome, e.Target, e.Ip, e.UserAgent, string(e.Details)}
			_ = cw.Write(spreadsheet.Row(rec)) // every column: rows written before sanitizing, or by other code, too
		}
		cw.Flush()
		if len(rows) < int(p.Lim) {
			return cw.Error()
		}
		last := rows[len(rows)-1].ID
		p.BeforeID = &last
	}
}

func (h *Handlers) auditFilter(q url.Values, limit int32) (queries.AuditSearchParams, error) {
	p := queries.AuditSearchParams{Lim: limit}
	if v := q.Get("actor"); v != "" {
		p.Actor = &v
	}
	if v := q.Get("action"); v != "" {
		p.Action = &v
	}
	for _, f := range []struct {
		name string
		dst  **time.Time
		add  int
	}{{"from", &p.Since, 0}, {"to", &p.Until, 1}} {
		if v := q.Get(f.name); v != "" {
			d, err := time.ParseInLocation(time.DateOnly, v, h.Cfg.DisplayTZ)
			if err != nil {
				return p, FieldError(f.name, "%s must be a date like 2026-01-31", f.name)
			}
			d = d.AddDate(0, 0, f.add) // "to" includes the whole day
			*f.dst = &d
		}
	}
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return p, FieldError("before", "invalid page cursor")
		}
		p.BeforeID = &id
	}
	return p, nil
}

func idStr(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}
