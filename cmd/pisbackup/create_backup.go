package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("create-backup", "take a backup now (runs in-process; no server needed)", cmdCreateBackup)
}

func cmdCreateBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "create-backup", "--type database|media|full [--verify LEVEL] [--dry-run] [--no-wait] [--json]")
	kind := fs.String("type", "database", "what to back up: database, media or full")
	verify := fs.String("verify", "", "verification to run afterwards: checksum, archive or drill")
	dry := fs.Bool("dry-run", false, "print what would be backed up and change nothing")
	noWait := fs.Bool("no-wait", false, "enqueue for the worker and return at once")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := oneOf("type", *kind, "database", "media", "full"); err != nil {
		return err
	}
	if *verify != "" {
		if err := oneOf("verify", *verify, jobs.Levels...); err != nil {
			return err
		}
		if *noWait {
			return usageErr("--verify waits for the backup and its verification: drop --no-wait")
		}
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	if *dry {
		return printDryRun(ctx, e, a.cfg, d, *kind, *asJSON)
	}
	queue := jobs.QueueBackups
	if !*noWait {
		// A private queue: this process works exactly the job it enqueues, and nothing else.
		queue = jobs.PrivateQueue()
	}
	client, err := jobs.NewClient(d, jobs.Private, queue)
	if err != nil {
		return err
	}
	b, existing, err := jobs.EnqueueBackup(ctx, a.pool, client, a.cfg, jobs.BackupRequest{Kind: *kind, Trigger: "cli", Queue: queue})
	if err != nil {
		return err
	}
	if existing {
		fmt.Fprintf(e.stderr, "a %s backup is already %s (#%d); following it instead of starting another\n", b.Kind, b.Status, b.ID)
	}
	var wake <-chan struct{}
	// Started even when following another process's backup: --verify runs on this private queue.
	if !*noWait {
		var stop func()
		wake, stop = jobsEnded(client) // before Start, so even a quick job's end is seen
		defer stop()
		if err := client.Start(ctx); err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = client.Stop(sctx)
		}()
	}
	if !*noWait {
		if b, err = waitBackup(ctx, e, d.Q, b.ID, wake); err != nil {
			return err
		}
	}
	if err := printBackup(e, b, *asJSON); err != nil {
		return err
	}
	switch b.Status {
	case "succeeded", "warning":
		if *verify != "" {
			return verifyNewBackup(ctx, e, a, d, client, queue, b, *verify, *asJSON)
		}
		return nil
	case "queued", "running":
		return nil
	}
	return silentExit(1)
}

// verifyNewBackup runs --verify LEVEL on the backup just taken (each child of a full backup) with this process's
// private client, and exits 1 unless every verification succeeded.
func verifyNewBackup(ctx context.Context, e *env, a *app, d *jobs.Deps, client *river.Client[pgx.Tx], queue string,
	b queries.Backup, level string, asJSON bool) error {
	ids := []int64{b.ID}
	if b.Kind == "full" {
		children, err := d.Q.BackupListChildren(ctx, &b.ID)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, c := range children {
			ids = append(ids, c.ID)
		}
	}
	failed := false
	for _, id := range ids {
		v, err := jobs.EnqueueVerification(ctx, a.pool, client, jobs.VerifyRequest{BackupID: id, Level: level, Queue: queue})
		if err != nil {
			return err
		}
		if v, err = waitRow(ctx, func(c context.Context) (queries.Verification, string, error) {
			v, err := d.Q.VerificationGet(c, v.ID)
			return v, v.Status, err
		}); err != nil {
			return err
		}
		printVerification(e, v, asJSON)
		failed = failed || v.Status != "succeeded"
	}
	if failed {
		return silentExit(1)
	}
	return nil
}

// waitBackup polls the row until it is final, drawing a progress line on a terminal.
func waitBackup(ctx context.Context, e *env, q *queries.Queries, id int64, wake <-chan struct{}) (queries.Backup, error) {
	return pollUntilDone(ctx, e, 200*time.Millisecond, wake,
		func(ctx context.Context) (queries.Backup, error) { return q.BackupGet(ctx, id) },
		func(b queries.Backup) string { return b.Status },
		func(b queries.Backup) string {
			return fmt.Sprintf("backup #%d %s: %s", b.ID, b.Status, progressText(b))
		},
		"interrupted; the backup is stopped with this process and will be marked failed")
}

func progressText(b queries.Backup) string {
	if b.ProgressTotal > 0 {
		pct := min(99, 100*b.ProgressBytes/b.ProgressTotal)
		return fmt.Sprintf("%s read (~%d%%)", humanBytes(b.ProgressBytes), pct)
	}
	return humanBytes(b.ProgressBytes) + " read"
}

// backupJSON is the CLI's machine-readable backup.
type backupJSON struct {
	ID         int64    `json:"id"`
	Kind       string   `json:"kind"`
	Status     string   `json:"status"`
	Trigger    string   `json:"trigger"`
	Size       int64    `json:"size"`
	SHA256     string   `json:"sha256"`
	StorageKey string   `json:"storage_key"`
	DurationMS *int64   `json:"duration_ms"`
	Error      string   `json:"error,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	QueuedAt   string   `json:"queued_at"`
}

func toJSON(b queries.Backup) backupJSON {
	return backupJSON{ID: b.ID, Kind: b.Kind, Status: b.Status, Trigger: b.Trigger, Size: b.BytesStored,
		SHA256: b.Sha256, StorageKey: b.StorageKey, DurationMS: b.DurationMs, Error: b.Error,
		Warnings: b.Warnings, QueuedAt: b.QueuedAt.UTC().Format(time.RFC3339)}
}

func printBackup(e *env, b queries.Backup, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(toJSON(b))
	}
	fmt.Fprintf(e.stdout, "backup #%d %s %s", b.ID, b.Kind, b.Status)
	if b.StorageKey != "" { // a failed or queued backup has no artifact: say nothing rather than ", 0 B stored"
		fmt.Fprintf(e.stdout, ": %s, %s stored", b.StorageKey, humanBytes(b.BytesStored))
	}
	if b.DurationMs != nil {
		fmt.Fprintf(e.stdout, " in %s", (time.Duration(*b.DurationMs) * time.Millisecond).Round(10*time.Millisecond))
	}
	fmt.Fprintln(e.stdout)
	if b.Sha256 != "" {
		fmt.Fprintf(e.stdout, "sha256 %s\n", b.Sha256)
	}
	for _, w := range b.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", w)
	}
	if b.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", b.Error)
	}
	return nil
}

// dryRunPlan is what --dry-run reports: where a backup would read and write, and which pg_dump it would run
// against the source's server (the same choice the backup makes, see backup.ClientFor).
type dryRunPlan struct {
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	MediaRoot   string `json:"media_root"`
	Destination string `json:"destination"`
	Encryption  string `json:"encryption"`
	// PgDump is the chosen client's path; empty when none fits or the source cannot be reached.
	PgDump        string `json:"pg_dump"`
	PgDumpVersion string `json:"pg_dump_version,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
	// Compatible is whether the backup's pg_dump can dump the source; Problem says why not.
	Compatible bool     `json:"compatible"`
	Problem    string   `json:"problem,omitempty"`
	Found      []string `json:"pg_dump_found,omitempty"`
	major      string
}

// printDryRun says what a backup would do and exits 1 when it could not work (no suitable pg_dump, source
// unreachable), so `create-backup --dry-run` answers "would tonight's backup run?" truthfully.
func printDryRun(ctx context.Context, e *env, cfg *config.Config, d *jobs.Deps, kind string, asJSON bool) error {
	enc := "age, recipients fingerprint " + d.Keys.Fingerprint()
	if len(d.Keys.Recipients) == 0 {
		enc = "NONE (BACKUP_UNENCRYPTED=true)"
	}
	p := dryRunPlan{Kind: kind, Source: cfg.Source.String(), MediaRoot: cfg.MediaRoot,
		Destination: d.Store.String(), Encryption: enc, Compatible: true}
	if kind != "media" {
		c, err := backup.ClientFor(ctx, cfg.PGClients, "pg_dump", cfg.Source)
		p.PgDump, p.PgDumpVersion, p.ServerVersion, p.Compatible, p.major = c.Path, c.Version, c.Server, err == nil, c.Major()
		for _, f := range c.Found {
			p.Found = append(p.Found, f.Version+" "+f.Path)
		}
		if err != nil {
			p.Problem = err.Error()
		}
	}
	if asJSON {
		if err := json.NewEncoder(e.stdout).Encode(map[string]any{"dry_run": true, "plan": p}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "dry run: would back up %s\n  source:      %s\n", kind, p.Source)
		if kind != "media" {
			server := p.ServerVersion
			if server == "" {
				server = "unknown"
			}
			fmt.Fprintf(e.stdout, "  server:      PostgreSQL %s\n", server)
			if p.Compatible {
				fmt.Fprintf(e.stdout, "  pg_dump:     %s at %s (compatible: newest of %d installed, major %s >= the server's)\n",
					p.PgDumpVersion, p.PgDump, len(p.Found), p.major)
			} else {
				fmt.Fprintf(e.stdout, "  pg_dump:     NOT USABLE: %s\n", p.Problem)
			}
		}
		fmt.Fprintf(e.stdout, "  media:       %s\n  destination: %s\n  encryption:  %s\nnothing was changed\n",
			p.MediaRoot, p.Destination, p.Encryption)
	}
	if !p.Compatible {
		fmt.Fprintln(e.stderr, "dry run: this backup would fail:", p.Problem)
		return silentExit(1)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
