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
	groups := []func(context.Context, Env) []Check{catalogChecks, sourceChecks, restoreChecks,
		func(ctx context.Context, e Env) []Check { return []Check{storageCheck(ctx, e)} },
		func(ctx context.Context, e Env) []Check { return []Check{ageCheck(e)} },
		func(ctx context.Context, e Env) []Check { return []Check{sendgridCheck(ctx, e)} },
		func(ctx context.Context, e Env) []Check { return []Check{cloudinaryCheck(ctx, e)} },
	}
	results := make([][]Check, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, Timeout)
			defer cancel()
			results[i] = g(cctx, env)
		}()
	}
	wg.Wait()
	r := Report{OK: true, CheckedAt: time.Now().UTC()}
	for _, cs := range results {
		for _, c := range cs {
			r.OK = r.OK && c.OK
			r.Checks = append(r.Checks, c)
		}
	}
	return r
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
