// Package preflight checks, before any backup is due, everything a backup, drill or restore will need:
// the catalog, the source and its pg_dump, the restore server and its pg_restore, storage, encryption keys
// and the configured integrations. `pisbackup preflight` (the Heroku release phase), the dashboard's
// configuration card and /api/v1/health all show this one Report, so they cannot disagree.
package preflight

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/storage"
)

// Check is one answer. A failing check says what is wrong (Problem) and what to do (Fix), each one sentence.
type Check struct {
	Name  string `json:"name"`  // stable id: catalog, source, source_tables, pg_dump, restore_server, …
	Title string `json:"title"` // for people: "Source database"
	OK    bool   `json:"ok"`
	// Skipped is set when the integration is not configured; a skipped check passes.
	Skipped bool `json:"skipped,omitempty"`
	// Warn marks a passing check that still deserves attention (backups not encrypted, say).
	Warn    bool   `json:"warn,omitempty"`
	Detail  string `json:"detail,omitempty"` // what was found
	Problem string `json:"problem,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// Line is the check as one line of text: "ok   pg_dump: …" or "FAIL pg_dump: problem. Fix: …".
func (c Check) Line() string {
	switch {
	case !c.OK:
		return fmt.Sprintf("FAIL %s: %s. Fix: %s", c.Name, strings.TrimSuffix(c.Problem, "."), c.Fix)
	case c.Skipped:
		return fmt.Sprintf("skip %s: %s", c.Name, c.Detail)
	case c.Warn:
		return fmt.Sprintf("warn %s: %s", c.Name, c.Detail)
	}
	return fmt.Sprintf("ok   %s: %s", c.Name, c.Detail)
}

// Report is every check, in a fixed order. OK only when every check passed.
type Report struct {
	OK        bool      `json:"ok"`
	CheckedAt time.Time `json:"checked_at"`
	Checks    []Check   `json:"checks"`
}

// Failed returns the failing checks.
func (r Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Env is what the checks need. Catalog and Store may be nil: the checks then connect and open them from Cfg.
type Env struct {
	Cfg     *config.Config
	Catalog *pgxpool.Pool
	Store   storage.Store
	// Getenv reads the storage backend's credentials (AWS_*), as storage.Open does.
	Getenv func(string) string
	// DevIdentity is the development identity file used when BACKUP_AGE_IDENTITY_FILE is unset.
	DevIdentity string
}

// Timeout bounds each check: a server that does not answer fails its check instead of hanging the deploy.
const Timeout = 20 * time.Second

// Run performs every check concurrently and returns them in a fixed order. It changes nothing except a probe
// object in storage, which it deletes again.
func Run(ctx context.Context, env Env) Report {
	results := make([][]Check, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runGroup(ctx, env, g.run)
		}()
	}
	wg.Wait()
	r := Report{OK: true, CheckedAt: time.Now().UTC()}
	for _, cs := range results {
		for _, c := range cs {
			// The checks quote what PostgreSQL, S3, SendGrid and Cloudinary answered; none may carry a secret
			// to the dashboard, the API or the deploy log.
			c.Detail, c.Problem, c.Fix = env.Cfg.Scrub(c.Detail), env.Cfg.Scrub(c.Problem), env.Cfg.Scrub(c.Fix)
			r.OK = r.OK && c.OK
			r.Checks = append(r.Checks, c)
		}
	}
	return r
}

// groups are the checks Run performs, in report order, each under the name RunGroup (the "Test connection"
// buttons and POST /api/v1/checks/{group}) knows it by.
var groups = []struct {
	name string
	run  func(context.Context, Env) []Check
}{
	{"catalog", catalogChecks},
	{"source", sourceChecks}, // connect, version, pg_dump fits, the backup role reads every table
	{"restore", restoreChecks},
	{"storage", func(ctx context.Context, e Env) []Check { return []Check{storageCheck(ctx, e)} }}, // write/read/delete a probe
	{"age", func(_ context.Context, e Env) []Check { return []Check{ageCheck(e)} }},
	{"sendgrid", func(ctx context.Context, e Env) []Check { return []Check{sendgridCheck(ctx, e)} }},
	{"cloudinary", func(ctx context.Context, e Env) []Check { return []Check{cloudinaryCheck(ctx, e)} }},
}

// GroupNames lists the names RunGroup accepts, in report order.
func GroupNames() []string {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
	}
	return names
}

// RunGroup performs the checks of one group now (bounded by Timeout), exactly as Run does them; ok is false
// for an unknown name.
func RunGroup(ctx context.Context, env Env, name string) (checks []Check, ok bool) {
	for _, g := range groups {
		if g.name == name {
			return runGroup(ctx, env, g.run), true
		}
	}
	return nil, false
}

func runGroup(ctx context.Context, env Env, run func(context.Context, Env) []Check) []Check {
	cctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	return run(cctx, env)
}

func pass(name, title, detail string) Check {
	return Check{Name: name, Title: title, OK: true, Detail: detail}
}

func fail(name, title, problem, fix string) Check {
	return Check{Name: name, Title: title, Problem: problem, Fix: fix}
}

func skip(name, title, detail string) Check {
	return Check{Name: name, Title: title, OK: true, Skipped: true, Detail: detail}
}
