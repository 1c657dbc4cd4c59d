package views

import "strings"

// metricNames are the health metrics (jobs/health_metrics.go) named for people.
var metricNames = map[string]string{
	"source_db_bytes":          "Clinic database size",
	"media_bytes":              "Media files size",
	"storage_used_bytes":       "Backup storage used",
	"storage_free_bytes":       "Backup storage free",
	"backup_success_rate_24h":  "Backups that succeeded (24 h)",
	"backup_success_rate_7d":   "Backups that succeeded (7 days)",
	"drill_proven_age_seconds": "Age of the newest drill-proven backup",
	"river_queue_depth":        "Jobs waiting",
	"river_jobs_running":       "Jobs running",
	"worker_uptime_seconds":    "Worker running for",
	"monitor_status":           "Overall health",
}

// MetricName names a health metric for people ("Newest good backup age (database)", not
// last_good_backup_age_seconds_database); unknown metrics keep their id.
func MetricName(metric string) string {
	if n, ok := metricNames[metric]; ok {
		return n
	}
	if kind, ok := strings.CutPrefix(metric, "last_good_backup_age_seconds_"); ok {
		return "Newest good backup age (" + kind + ")"
	}
	return metric
}

// MetricValue renders a metric's value for people: the overall health level in words ("monitor_status 2"
// means nothing to staff), everything else in its unit.
func MetricValue(metric string, v float64, unit string) string {
	if unit == "level" || metric == "monitor_status" {
		switch int(v) {
		case 0:
			return "OK"
		case 1:
			return "Warning"
		case 2:
			return "Critical"
		}
	}
	if unit == "jobs" {
		return FormatValue(v, "")
	}
	return FormatValue(v, unit)
}
