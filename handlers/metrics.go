package handlers

import (
	"crypto/subtle"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// metricsPrometheus serves /metrics: the newest value of every health metric the worker recorded, in
// Prometheus text format.
//
// Its route needs an admin (session or API token), and authorize also admits a scraper presenting
// `Authorization: Bearer $METRICS_TOKEN` on this one path: that token belongs to no user, so it cannot be an
// API token, and a Prometheus server should not need a person's admin token.
func (h *Handlers) metricsPrometheus(w http.ResponseWriter, r *http.Request) error {
	rows, err := h.Q.HealthMetricLatest(r.Context())
	if err != nil {
		return err
	}
	st, err := h.recoveryState(r.Context(), nil)
	if err != nil {
		return err
	}
	live := liveSnapshots(st)
	reg := prometheus.NewRegistry()
	collected := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pisbackup_metric_recorded_timestamp_seconds",
		Help: "When the worker last recorded each health metric (Unix time)."}, []string{"metric"})
	reg.MustRegister(collected)
	for _, m := range rows {
		v := m.Value
		if now, isSnapshot := live[m.Metric]; isSnapshot && now == nil {
			continue // the live state has no such backup any more (pruned, failed verification)
		} else if isSnapshot {
			v = *now
		}
		name := "pisbackup_" + promName.ReplaceAllString(m.Metric, "_")
		help := "pisbackup health metric " + m.Metric
		if m.Unit != "" {
			help += " (" + m.Unit + ")"
		}
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		if err := reg.Register(g); err != nil {
			continue // two stored names that map to one Prometheus name: keep the first
		}
		g.Set(v)
		collected.WithLabelValues(m.Metric).Set(float64(m.RecordedAt.Unix()))
	}
	registerState(reg, st)
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

// liveSnapshots are the health job's recorded copies of the recoverability state (its verdict, the newest
// good and proven backup ages), keyed by metric name with the value the state has now (nil: absent now).
// /metrics serves these values, not the up-to-15-minute-old recordings, so a rule on pisbackup_monitor_status
// agrees with pisbackup_recovery_status, /readyz and the dashboard.
func liveSnapshots(st recovery.State) map[string]*float64 {
	code := float64(st.Code())
	out := map[string]*float64{recovery.MetricName: &code, "drill_proven_age_seconds": nil}
	for _, k := range recovery.Kinds {
		out["last_good_backup_age_seconds_"+k] = nil
		if g := st.Kinds[k].NewestGood; g != nil {
			out["last_good_backup_age_seconds_"+k] = &g.AgeSeconds
		}
	}
	if p := st.Kinds["database"].NewestProven; p != nil {
		out["drill_proven_age_seconds"] = &p.AgeSeconds
	}
	return out
}

// registerState exports the recoverability state as computed at scrape time: the same result the dashboard,
// /readyz and monitor-backups show, so an alerting rule on these gauges agrees with them.
func registerState(reg *prometheus.Registry, st recovery.State) {
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		reg.MustRegister(g)
		g.Set(v)
	}
	gauge("pisbackup_recovery_status", "Recoverability state: 0 ok (Recoverable), 1 warning (Needs attention), 2 critical (At risk).", float64(st.Code()))
	gauge("pisbackup_scheduler_alive", "1 while a schedule_tick completed within the grace period.", b2f(st.Scheduler.Alive))
	gauge("pisbackup_worker_alive", "1 while the worker's health job ran within two intervals.", b2f(st.Worker.Alive))
	good := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pisbackup_newest_good_backup_age_seconds",
		Help: "Age of the newest good backup per kind (absent when none)."}, []string{"kind"})
	proven := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pisbackup_newest_proven_backup_age_seconds",
		Help: "Age of the newest drill-proven backup per kind (absent when none)."}, []string{"kind"})
	failed := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pisbackup_backups_failed_verification",
		Help: "Stored backups per kind whose newest verification failed (not good)."}, []string{"kind"})
	problems := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pisbackup_recovery_problems",
		Help: "Problems in the recoverability state per rule and severity."}, []string{"rule", "severity"})
	reg.MustRegister(good, proven, failed, problems)
	for _, k := range recovery.Kinds {
		ks := st.Kinds[k]
		if ks.NewestGood != nil {
			good.WithLabelValues(k).Set(ks.NewestGood.AgeSeconds)
		}
		if ks.NewestProven != nil {
			proven.WithLabelValues(k).Set(ks.NewestProven.AgeSeconds)
		}
		failed.WithLabelValues(k).Set(float64(len(ks.FailedVerifications)))
	}
	for _, p := range st.Problems {
		problems.WithLabelValues(p.Rule, p.Severity).Inc()
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var promName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// metricsBearer reports whether r is a request for /metrics carrying METRICS_TOKEN (compared in constant time).
func (h *Handlers) metricsBearer(r *http.Request) bool {
	if h.Cfg == nil || h.Cfg.MetricsToken == "" || r.URL.Path != "/metrics" {
		return false
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(h.Cfg.MetricsToken)) == 1
}

// MetricPoint is one recorded value.
type MetricPoint struct {
	At    time.Time `json:"t"`
	Value float64   `json:"v"`
}

// apiMetrics is GET /api/v1/metrics?metric=NAME&since=RFC3339|24h|7d: one metric's series, oldest first.
func (h *Handlers) apiMetrics(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric == "" || len(metric) > 100 || promName.MatchString(metric) {
		names, err := h.metricNames(r)
		if err != nil {
			return err
		}
		return FieldError("metric", "metric is required: one of %s", strings.Join(names, ", "))
	}
	since, err := parseSince(q.Get("since"), h.Now())
	if err != nil {
		return err
	}
	rows, err := h.Q.HealthMetricSeries(r.Context(), queries.HealthMetricSeriesParams{Metric: metric, Since: since})
	if err != nil {
		return err
	}
	unit, points := "", make([]MetricPoint, 0, len(rows))
	for _, m := range rows {
		unit = m.Unit
		points = append(points, MetricPoint{At: m.RecordedAt, Value: m.Value})
	}
	writeJSON(w, http.StatusOK, map[string]any{"metric": metric, "unit": unit, "since": since, "points": points})
	return nil
}

func (h *Handlers) metricNames(r *http.Request) ([]string, error) {
	rows, err := h.Q.HealthMetricLatest(r.Context())
	names := make([]string, 0, len(rows))
	for _, m := range rows {
		names = append(names, m.Metric)
	}
	return names, err
}

// parseSince reads an RFC 3339 time or a look-back such as 24h or 7d; empty means 24 hours.
func parseSince(v string, now time.Time) (time.Time, error) {
	bad := FieldError("since", "since must be an RFC 3339 time (2026-11-25T02:00:00Z) or a look-back such as 24h or 30d")
	switch {
	case v == "":
		return now.Add(-24 * time.Hour), nil
	case strings.HasSuffix(v, "d"):
		d, err := time.ParseDuration(strings.TrimSuffix(v, "d") + "h")
		if err != nil || d <= 0 || d > 3660*time.Hour {
			return time.Time{}, bad
		}
		return now.Add(-24 * d), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, bad
	}
	return t, nil
}
