package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/preflight"
)

func init() {
	register("preflight", "check everything backups, drills and restores need; exit 1 naming each failure (release phase)", cmdPreflight)
}

// cmdPreflight needs only the environment: an unreachable catalog is one of the failures it reports, not a
// reason to stop before the others are checked.
func cmdPreflight(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "preflight", "[--json]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	r := preflight.Run(ctx, preflight.Env{Cfg: cfg, Getenv: e.getenv, DevIdentity: devIdentityFile})
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		for _, c := range r.Checks {
			fmt.Fprintln(e.stdout, c.Line())
		}
	}
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Fprintf(e.stderr, "preflight: %d of %d checks failed; backups, drills or restores would fail until they are fixed\n", len(failed), len(r.Checks))
		return silentExit(1)
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "preflight: all %d checks passed\n", len(r.Checks))
	}
	return nil
}
