package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uscpis/pisbackup/internal/monitor"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("monitor-backups", "check backup health without a worker; exit 0 ok, 1 warning, 2 critical", cmdMonitorBackups)
}

// cmdMonitorBackups runs the monitor's rules once, for Heroku Scheduler or cron: it notices a dead worker
// because it does not need one.
func cmdMonitorBackups(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "monitor-backups", "[--json] [--send-alerts]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	sendAlerts := fs.Bool("send-alerts", false, "also open, remind and resolve alerts and deliver their e-mail in-process")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	st, err := storage.Open(ctx, a.cfg.BackupStorage, a.getenv)
	if err != nil {
		return err
	}
	var rep monitor.Report
	delivered := true
	if *sendAlerts {
		rep, delivered, err = a.sendAlerts(ctx, e, st)
	} else {
		rep, err = monitor.Evaluate(ctx, queries.New(a.pool), st, time.Now())
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		printMonitorReport(e, rep)
	}
	code := rep.Code()
	if !delivered {
		code = max(code, 1) // alert e-mail not delivered is at least a warning
	}
	if code != 0 {
		return silentExit(code)
	}
	return nil
}

func printMonitorReport(e *env, rep monitor.Report) {
	fmt.Fprintf(e.stdout, "status: %s\n", rep.Status)
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "%-8s %s [%s %s]\n         → %s\n", p.Severity, p.Message, p.Rule, p.Subject, p.Recommendation)
	}
	s := rep.Stats
	fmt.Fprintf(e.stdout, "backups: %d/%d good in 24 h (%.0f%%), %d/%d in 7 d (%.0f%%)\n", s.Good24h, s.Finished24h,
		100*s.SuccessRate24h, s.Good7d, s.Finished7d, 100*s.SuccessRate7d)
	for _, kind := range []string{"database", "media", "full"} {
		if age, ok := s.LastGoodAgeSeconds[kind]; ok {
			fmt.Fprintf(e.stdout, "newest good %s backup: %s old\n", kind, (time.Duration(age) * time.Second).Round(time.Minute))
		} else {
			fmt.Fprintf(e.stdout, "newest good %s backup: none\n", kind)
		}
	}
	if s.DrillProvenAgeSeconds != nil {
		fmt.Fprintf(e.stdout, "newest drill-proven backup: %s old\n", (time.Duration(*s.DrillProvenAgeSeconds) * time.Second).Round(time.Minute))
	} else {
		fmt.Fprintln(e.stdout, "newest drill-proven backup: none")
	}
}
