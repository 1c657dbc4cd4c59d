package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("cancel", "cancel a queued or running backup, verification (drill), restore or media migration", cmdCancel)
}

// cancelKinds maps the command's words to the kinds CancelWork knows.
var cancelKinds = map[string]string{"backup": jobs.WorkBackup, "verification": jobs.WorkVerification,
	"drill": jobs.WorkVerification, "restore": jobs.WorkRestore, "media-migration": jobs.WorkMediaMigration}

// cmdCancel stops work wherever it runs (a worker or another CLI process), waits until its row is final, and
// prints it. The row names the OS user who cancelled; the cancel is audited.
func cmdCancel(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cancel", "backup|verification|drill|restore|media-migration ID [--no-wait] [--json]")
	noWait := fs.Bool("no-wait", false, "ask and return at once instead of waiting for the row to end")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageErr("give what to cancel: backup, verification, drill, restore or media-migration, then its ID")
	}
	what, ok := cancelKinds[args[0]]
	if !ok {
		return usageErr(fmt.Sprintf("cannot cancel a %q: give backup, verification, drill, restore or media-migration", args[0]))
	}
	id, err := parseWithID(fs, args[1:])
	if err != nil {
		return err
	}
	if id == 0 {
		return usageErr("give the ID of the " + args[0] + " to cancel")
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	by := "cli"
	if u := a.getenv("USER"); u != "" {
		by = "cli:" + u
	}
	q := queries.New(a.pool)
	d := &jobs.Deps{Pool: a.pool, Q: q, Cfg: a.cfg, Log: a.log}
	out, err := jobs.CancelWork(ctx, d, what, id, by)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s #%d not found", args[0], id)
	case errors.Is(err, jobs.ErrNotInFlight):
		return fmt.Errorf("nothing to cancel: %v", err)
	case err != nil:
		return err
	}
	cliAudit(ctx, a, q, what+".cancel", what+":"+fmt.Sprint(id), map[string]string{"outcome": string(out)})
	status, msg := string(out), ""
	if !*noWait {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			w, err := jobs.GetWork(ctx, q, what, id)
			if err != nil {
				return err
			}
			if msg = w.Error; w.Status != "queued" && w.Status != "running" {
				status = w.Status
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"what": what, "id": id, "status": status, "error": msg})
	}
	fmt.Fprintf(e.stdout, "%s #%d %s", args[0], id, status)
	if msg != "" {
		fmt.Fprintf(e.stdout, ": %s", msg)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
