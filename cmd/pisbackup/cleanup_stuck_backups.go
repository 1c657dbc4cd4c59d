package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("cleanup-stuck-backups", "end work whose process died (no heartbeat for --timeout, or job gone): backups, drills, restores, migrations, record recoveries, CLI jobs; prints each", cmdCleanupStuck)
}

// cmdCleanupStuck is the seed's command, kept for parity: the worker's reconciler does the same continuously
// (with BACKUP_HEARTBEAT_TIMEOUT, 2 minutes by default). It reuses that reconciler with the given timeout, so it
// also ends work a killed CLI process left on its private queue.
func cmdCleanupStuck(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cleanup-stuck-backups", "[--timeout 30m] [--dry-run] [--json]")
	timeout := fs.Duration("timeout", 30*time.Minute, "end work whose process has not heartbeated for this long")
	dry := fs.Bool("dry-run", false, "list what would be failed and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *timeout < time.Minute {
		return usageErr("--timeout must be at least 1m (live work heartbeats every second, but give it room)")
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	d := &jobs.Deps{Pool: a.pool, Q: queries.New(a.pool), Cfg: a.cfg, Log: a.log}
	if d.Store, err = storage.Open(ctx, a.cfg.BackupStorage, a.getenv); err != nil {
		return err
	}
	var rows []jobs.Fixed
	if *dry {
		rows, err = jobs.FindStuck(ctx, d, *timeout)
	} else {
		rows, err = jobs.Reconcile(ctx, d, *timeout)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]map[string]any, 0, len(rows))
		for _, f := range rows {
			m := map[string]any{"what": f.What, "id": f.ID, "reason": f.Reason, "changed": !*dry}
			if f.What == "backup" {
				m["backup"] = toJSON(f.Backup)
			}
			out = append(out, m)
		}
		return json.NewEncoder(e.stdout).Encode(out)
	}
	verb := "failed"
	if *dry {
		verb = "would fail"
	}
	for _, f := range rows {
		switch f.What {
		case "backup":
			fmt.Fprintf(e.stdout, "backup #%d (%s, queued %s): %s: %s\n", f.Backup.ID, f.Backup.Kind,
				f.Backup.QueuedAt.UTC().Format(time.RFC3339), verb, f.Reason)
		case "verification", "restore", "media migration", "recovery":
			fmt.Fprintf(e.stdout, "%s #%d: %s: %s\n", f.What, f.ID, verb, f.Reason)
		default:
			fmt.Fprintf(e.stdout, "%s job #%d: %s: %s\n", f.What, f.ID, map[bool]string{true: "would end", false: "ended"}[*dry], f.Reason)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "nothing is stuck")
	}
	return nil
}
