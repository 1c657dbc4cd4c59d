package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("monitor-backups", "check backup health without a worker; exit 0 ok, 1 warning, 2 critical", cmdMonitorBackups)
}

// cmdMonitorBackups computes the recoverability state once (the dashboard's), for Heroku Scheduler or cron: it
// notices a dead worker and scheduler because it needs neither. --json prints the whole State.
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
	var rep recovery.State
	delivered := true
	if *sendAlerts {
		rep, delivered, err = a.sendAlerts(ctx, e, st)
	} else {
		rep, err = recovery.Evaluate(ctx, recovery.Inputs{Q: queries.New(a.pool), Store: st, Cfg: a.cfg, Now: time.Now()})
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		printState(e, rep)
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

// printState prints the recoverability state as the dashboard shows it: label and headline first, then each
// problem, then the numbers behind them.
func printState(e *env, s recovery.State) {
	fmt.Fprintf(e.stdout, "status: %s (%s)\n%s\n", s.Status, s.Label, s.Headline)
	for _, p := range s.Problems {
		fmt.Fprintf(e.stdout, "%-8s %s [%s %s]\n         → %s\n", p.Severity, p.Message, p.Rule, p.Subject, p.Recommendation)
	}
	st := s.Stats
	fmt.Fprintf(e.stdout, "backups: %s in 24 h, %s in 7 d\n", rate(st.Good24h, st.Finished24h), rate(st.Good7d, st.Finished7d))
	for _, kind := range recovery.Kinds {
		k := s.Kinds[kind]
		fmt.Fprintf(e.stdout, "%s: newest good %s, newest proven %s, %d not good (verification failed)\n",
			kind, refText(k.NewestGood), refText(k.NewestProven), len(k.FailedVerifications))
	}
	fmt.Fprintf(e.stdout, "scheduler alive: %t; worker alive: %t\n", s.Scheduler.Alive, s.Worker.Alive)
}

func rate(good, total int64) string {
	if total == 0 {
		return "no backups finished"
	}
	return fmt.Sprintf("%d/%d good (%.0f%%)", good, total, 100*float64(good)/float64(total))
}

func refText(b *recovery.BackupRef) string {
	if b == nil {
		return "none"
	}
	return fmt.Sprintf("#%d (%s old)", b.ID, recovery.Dur(time.Duration(b.AgeSeconds*float64(time.Second))))
}
