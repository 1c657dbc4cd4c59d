package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("verify-backup", "verify a backup: checksum, archive listing or a full restore drill", cmdVerifyBackup)
}

func cmdVerifyBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify-backup", "ID|--latest [--level checksum|archive|drill] [--json]")
	latest := fs.Bool("latest", false, "verify the newest good database backup")
	level := fs.String("level", "checksum", "checksum, archive or drill")
	asJSON := fs.Bool("json", false, "print the verification as JSON")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if err := oneOf("level", *level, jobs.Levels...); err != nil {
		return err
	}
	if (id == 0) == !*latest {
		return usageErr("give a backup ID or --latest (not both)")
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	if *level == "drill" {
		if err := a.checkRestoreRole(ctx); err != nil {
			return err
		}
	}
	if *latest {
		b, err := d.Q.BackupLatestGood(ctx, "database")
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("no finished database backup to verify")
		} else if err != nil {
			return err
		}
		id = b.ID
	}
	client, queue, stop, err := privateClient(ctx, d)
	if err != nil {
		return err
	}
	defer stop()
	v, err := jobs.EnqueueVerification(ctx, a.pool, client, jobs.VerifyRequest{BackupID: id, Level: *level, Queue: queue})
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("backup #%d not found", id)
	} else if err != nil {
		return err
	}
	if v, err = waitRow(ctx, func(c context.Context) (queries.Verification, string, error) {
		v, err := d.Q.VerificationGet(c, v.ID)
		return v, v.Status, err
	}); err != nil {
		return err
	}
	printVerification(e, v, *asJSON)
	if v.Status != "succeeded" {
		return silentExit(1)
	}
	return nil
}

func printVerification(e *env, v queries.Verification, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	fmt.Fprintf(e.stdout, "verification #%d of backup #%d (%s): %s", v.ID, v.BackupID, v.Level, v.Status)
	if v.RtoMs != nil {
		fmt.Fprintf(e.stdout, ", restore took %s", (time.Duration(*v.RtoMs) * time.Millisecond).Round(10*time.Millisecond))
	}
	fmt.Fprintln(e.stdout)
	if v.Level == "drill" && len(v.Details) > 0 {
		var res backup.DrillResult
		if json.Unmarshal(v.Details, &res) == nil {
			for _, t := range res.Tables {
				mark := "ok"
				if !t.Match {
					mark = "DIFFERS"
				}
				content := map[string]string{"same": "rows same", "differs": "rows DIFFER", "": "rows not compared"}[t.Content]
				fmt.Fprintf(e.stdout, "  %-50s expected %8d  restored %8d  %-17s  %s\n", t.Table, t.Expected, t.Actual, content, mark)
			}
			if o := res.Objects; o != nil {
				fmt.Fprintf(e.stdout, "  %d schema objects, %d materialized views, %d large objects compared: %d differ\n",
					o.SchemaObjects, o.MaterializedViews, o.LargeObjects, len(o.Differences))
				for _, d := range o.Differences {
					mark := "DIFFERS"
					if !d.Fails {
						mark = "explained"
					}
					fmt.Fprintf(e.stdout, "  %s  %s\n", d.What, mark)
					if d.ExplainedBy != "" {
						fmt.Fprintf(e.stdout, "    %s\n", d.ExplainedBy)
					}
				}
			}
		}
	}
	if v.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", v.Error)
	}
}

// parseWithID accepts the positional ID before or after the flags ("verify-backup 12 --level drill").
func parseWithID(fs *flag.FlagSet, args []string) (int64, error) {
	var pos string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		pos, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		if pos != "" || fs.NArg() > 1 {
			return 0, usageErr("unexpected arguments: give one backup ID")
		}
		pos = fs.Arg(0)
	}
	if pos == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(pos, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr(fmt.Sprintf("backup ID must be a positive number, got %q", pos))
	}
	return id, nil
}

// privateClient starts a River client working a queue private to this process, so the CLI runs exactly the
// job it enqueues, without a server.
func privateClient(ctx context.Context, d *jobs.Deps) (*river.Client[pgx.Tx], string, func(), error) {
	queue := jobs.PrivateQueue()
	client, err := jobs.NewClient(d, jobs.Private, queue)
	if err != nil {
		return nil, "", nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, "", nil, err
	}
	return client, queue, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	}, nil
}

// waitRow polls get until the row's status is final.
func waitRow[T any](ctx context.Context, get func(context.Context) (T, string, error)) (T, error) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		row, status, err := get(context.WithoutCancel(ctx))
		if err != nil || (status != "queued" && status != "running") {
			return row, err
		}
		select {
		case <-ctx.Done():
			return row, errors.New("interrupted; the job stops with this process and its row is marked failed")
		case <-t.C:
		}
	}
}
