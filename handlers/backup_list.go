package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

const pageSize = 50

// backupList is the backups page.
func (h *Handlers) backupList(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.backupListVM(r)
	if err != nil {
		return err
	}
	return views.BackupListPage(vm).Render(r.Context(), w)
}

// backupTable is the HTMX partial the list polls while something runs.
func (h *Handlers) backupTable(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.backupListVM(r)
	if err != nil {
		return err
	}
	return views.BackupTable(vm).Render(r.Context(), w)
}

func (h *Handlers) backupListVM(r *http.Request) (views.BackupListVM, error) {
	q := r.URL.Query()
	vm := views.BackupListVM{Chrome: h.chrome(r, "Backups", "backups"), Kind: q.Get("kind"), Status: q.Get("status")}
	p := queries.BackupListParams{Lim: pageSize + 1}
	if vm.Kind != "" {
		p.Kind = &vm.Kind
	}
	if vm.Status != "" {
		p.Status = &vm.Status
	}
	if c := q.Get("before"); c != "" {
		at, id, err := decodeCursor(c)
		if err != nil {
			return vm, FieldError("before", "invalid page cursor")
		}
		p.BeforeAt, p.BeforeID = &at, &id
	}
	rows, err := h.Q.BackupList(r.Context(), p)
	if err != nil {
		return vm, err
	}
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		last := rows[len(rows)-1]
		next := url.Values{"kind": {vm.Kind}, "status": {vm.Status}, "before": {encodeCursor(last.QueuedAt, last.ID)}}
		vm.NextURL = "/backups?" + next.Encode()
	}
	vm.Rows = rows
	schedules, err := h.Q.ScheduleList(r.Context())
	if err != nil {
		return vm, err
	}
	vm.ScheduleNames = make(map[int64]string, len(schedules))
	for _, s := range schedules {
		vm.ScheduleNames[s.ID] = s.Name
	}
	for _, b := range rows {
		if views.InFlight(b.Status) {
			vm.Live = true
		}
	}
	vm.PollURL = "/backups/table?" + r.URL.RawQuery
	return vm, nil
}

// Cursors are "<unix micros>.<id>": opaque enough, stable, and cheap to check.
func encodeCursor(t time.Time, id int64) string {
	return strconv.FormatInt(t.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)
}

func decodeCursor(s string) (time.Time, int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			us, err1 := strconv.ParseInt(s[:i], 10, 64)
			id, err2 := strconv.ParseInt(s[i+1:], 10, 64)
			if err1 != nil || err2 != nil {
				break
			}
			return time.UnixMicro(us), id, nil
		}
	}
	return time.Time{}, 0, strconv.ErrSyntax
}
