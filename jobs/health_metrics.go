package jobs

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// HealthMetricsArgs is the "health_metrics" job: every 15 minutes (and on demand from the health page) it
// records the health_metrics rows the charts and /metrics read, and the monitor's verdict, whose timestamp
// proves to /readyz that the worker lives.
type HealthMetricsArgs struct{}

// Kind names the job in River.
func (HealthMetricsArgs) Kind() string { return "health_metrics" }

// InsertOpts keeps one collection waiting or running at a time.
func (HealthMetricsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 1, UniqueOpts: activeUnique}
}

// HealthMetricsWorker runs CollectHealth.
type HealthMetricsWorker struct {
	river.WorkerDefaults[HealthMetricsArgs]
	D *Deps
}

// Work collects.
func (w *HealthMetricsWorker) Work(ctx context.Context, _ *river.Job[HealthMetricsArgs]) error {
	_, err := CollectHealth(ctx, w.D)
	return err
}

func init() {
	extraWorkers = append(extraWorkers, func(w *river.Workers, d *Deps) { river.AddWorker(w, &HealthMetricsWorker{D: d}) })
	extraPeriodic = append(extraPeriodic, func(d *Deps) []*river.PeriodicJob {
		every := d.MetricsEvery
		if every <= 0 {
			every = recovery.Interval
		}
		return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) { return HealthMetricsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "health_metrics"})}
	})
}

// metricsKeep bounds health_metrics: the longest chart shows 30 days.
const metricsKeep = 35 * 24 * time.Hour

// CollectHealth measures everything SPEC section 6 lists, records it, and returns the recoverability state. A
// measurement that fails (source database unreachable, say) is logged and skipped; the others still record.
func CollectHealth(ctx context.Context, d *Deps) (recovery.State, error) {
	now := d.now()
	rep, err := recovery.Evaluate(ctx, recovery.Inputs{Q: d.Q, Store: d.Store, Cfg: d.Cfg, Now: now})
	if err != nil {
		return rep, err
	}
	rep = rep.Without(recovery.RuleWorkerNotRunning)
	rec := func(metric string, v float64, unit string, details any) {
		var raw json.RawMessage
		if details != nil {
			raw, _ = json.Marshal(details)
		}
		if _, err := d.Q.HealthMetricInsert(ctx, queries.HealthMetricInsertParams{Metric: metric, Value: v, Unit: unit, Details: raw}); err != nil {
			d.Log.Warn("health metric not recorded", "metric", metric, "error", err)
		}
	}
	if n, err := sourceDBSize(ctx, d.Cfg.Source); err != nil {
		d.Log.Warn("source database size not measured", "error", d.Cfg.ScrubErr(err))
	} else {
		rec("source_db_bytes", float64(n), "bytes", nil)
	}
	if n, files, err := dirSize(d.Cfg.MediaRoot); err == nil {
		rec("media_bytes", float64(n), "bytes", map[string]int64{"files": files})
	}
	st := rep.Stats
	if d.Store != nil && st.StorageRead {
		rec("storage_used_bytes", float64(st.StorageUsedBytes), "bytes", nil)
		if st.StorageTotalBytes > 0 {
			rec("storage_free_bytes", float64(st.StorageFreeBytes), "bytes", map[string]int64{"total": st.StorageTotalBytes})
		}
	}
	// A rate of nothing is not 100%: with no finished backup in the window no rate is recorded.
	if st.SuccessRate24h != nil {
		rec("backup_success_rate_24h", *st.SuccessRate24h, "ratio", map[string]int64{"good": st.Good24h, "finished": st.Finished24h})
	}
	if st.SuccessRate7d != nil {
		rec("backup_success_rate_7d", *st.SuccessRate7d, "ratio", map[string]int64{"good": st.Good7d, "finished": st.Finished7d})
	}
	for _, kind := range recovery.Kinds {
		if g := rep.Kinds[kind].NewestGood; g != nil {
			rec("last_good_backup_age_seconds_"+kind, g.AgeSeconds, "seconds", nil)
		}
	}
	if p := rep.Kinds["database"].NewestProven; p != nil {
		rec("drill_proven_age_seconds", p.AgeSeconds, "seconds", nil)
	}
	if queues, err := d.Q.RiverQueueDepth(ctx); err == nil {
		var waiting, running int64
		for _, q := range queues {
			waiting, running = waiting+q.Waiting, running+q.Running
		}
		rec("river_queue_depth", float64(waiting), "jobs", queues)
		rec("river_jobs_running", float64(running), "jobs", nil)
	}
	if !d.Started.IsZero() {
		rec("worker_uptime_seconds", now.Sub(d.Started).Seconds(), "seconds", nil)
	}
	rec(recovery.MetricName, float64(rep.Code()), "level", rep.Problems)
	if err := d.Q.HealthMetricPrune(ctx, now.Add(-metricsKeep)); err != nil {
		d.Log.Warn("old health metrics not pruned", "error", err)
	}
	return rep, nil
}

func sourceDBSize(ctx context.Context, source *dbconn.Settings) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := source.Connect(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	err = conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
	return n, err
}

// dirSize walks the media root; unreadable entries are skipped (the media backup reports them properly).
func dirSize(root string) (bytes, files int64, err error) {
	if _, err := os.Stat(root); err != nil {
		return 0, 0, err
	}
	err = filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			bytes, files = bytes+info.Size(), files+1
		}
		return nil
	})
	return bytes, files, err
}
