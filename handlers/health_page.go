package handlers

import (
	"fmt"
	"net/http"
	"time"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

var healthRanges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// healthPage shows the monitor's verdict and trend charts of backup size, duration, success rate and database
// size over 24 h, 7 d or 30 d.
func (h *Handlers) healthPage(w http.ResponseWriter, r *http.Request) error {
	rng := r.URL.Query().Get("range")
	window, ok := healthRanges[rng]
	if !ok {
		rng, window = "7d", healthRanges["7d"]
	}
	now := h.Now()
	from := now.Add(-window)
	st, err := h.recoveryState(r.Context(), nil)
	if err != nil {
		return err
	}
	vm := views.HealthVM{Chrome: h.chrome(r, "Health", "health"), Range: rng, State: st, CheckGroups: testableGroups}
	latest, err := h.Q.HealthMetricLatest(r.Context())
	if err != nil {
		return err
	}
	// The recorded copies of the state (the verdict, backup ages) are shown as the state is now, beside it.
	live := liveSnapshots(st)
	for _, m := range latest {
		if now, isSnapshot := live[m.Metric]; isSnapshot && now == nil {
			continue
		} else if isSnapshot {
			m.Value, m.RecordedAt = *now, st.CheckedAt
		}
		vm.Latest = append(vm.Latest, m)
	}
	backups, err := h.Q.BackupFinishedSince(r.Context(), &from)
	if err != nil {
		return err
	}
	size := views.Chart{ID: "size", Title: "Backup size (stored)", Unit: "bytes", From: from, To: now}
	dur := views.Chart{ID: "duration", Title: "Backup duration", Unit: "seconds", From: from, To: now}
	for _, b := range backups {
		label := fmt.Sprintf("#%d %s %s", b.ID, b.Kind, b.Status)
		if b.Status != "failed" {
			size.Points = append(size.Points, views.ChartPoint{At: *b.FinishedAt, Value: float64(b.BytesStored),
				Label: label + ": " + views.Bytes(b.BytesStored)})
		}
		if b.DurationMs != nil {
			secs := float64(*b.DurationMs) / 1000
			dur.Points = append(dur.Points, views.ChartPoint{At: *b.FinishedAt, Value: secs, Bad: b.Status == "failed",
				Label: label + ": " + views.FormatValue(secs, "seconds")})
		}
	}
	rate, err := h.metricChart(r, "success", "Backup success rate (24 h)", "backup_success_rate_24h", "ratio", from, now)
	if err != nil {
		return err
	}
	db, err := h.metricChart(r, "dbsize", "Clinic database size", "source_db_bytes", "bytes", from, now)
	if err != nil {
		return err
	}
	vm.Charts = []views.Chart{size, dur, rate, db}
	return views.HealthPage(vm).Render(r.Context(), w)
}

func (h *Handlers) metricChart(r *http.Request, id, title, metric, unit string, from, to time.Time) (views.Chart, error) {
	c := views.Chart{ID: id, Title: title, Unit: unit, From: from, To: to}
	rows, err := h.Q.HealthMetricSeries(r.Context(), queries.HealthMetricSeriesParams{Metric: metric, Since: from})
	for _, m := range rows {
		c.Points = append(c.Points, views.ChartPoint{At: m.RecordedAt, Value: m.Value,
			Label: views.FormatValue(m.Value, unit)})
	}
	return c, err
}

// healthRefresh measures now: it queues the health job (the worker runs it within seconds).
func (h *Handlers) healthRefresh(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.River.Insert(r.Context(), jobs.HealthMetricsArgs{}, nil); err != nil {
		return err
	}
	h.audit(r, "health.refresh", "health", nil)
	http.Redirect(w, r, "/health", http.StatusSeeOther)
	return nil
}
