package main

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/internal/demo"
)

func init() {
	register("demo-seed", "build the demo clinic database (pis_demo) and media tree (var/media)", cmdDemoSeed)
}

func cmdDemoSeed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo-seed", "[--patients N] [--if-missing]")
	patients := fs.Int("patients", 200, "number of synthetic patients")
	ifMissing := fs.Bool("if-missing", false, "leave a database that already has data and a media folder that already has files alone")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *patients < 1 {
		return usageErr("--patients must be at least 1")
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	src := a.cfg.Source
	name, err := demo.EnsureDatabaseFor(ctx, src)
	if err != nil {
		return fmt.Errorf("SOURCE_DATABASE_URL: %s", a.cfg.ScrubErr(err))
	}
	// Nothing is written unless both targets are empty or demo-seed's own: check both before writing either.
	if *ifMissing && demo.HasData(ctx, src) {
		fmt.Fprintf(e.stdout, "demo-seed: %s already has data; left as it is\n", name)
	} else {
		if err := demo.CheckDatabase(ctx, src); err != nil {
			return err
		}
		if !*ifMissing {
			if err := demo.CheckMedia(a.cfg.MediaRoot); err != nil {
				return err
			}
		}
		counts, err := demo.Seed(ctx, src, demo.Options{Patients: *patients, Seed: 1})
		if err != nil {
			return err
		}
		var total int64
		for _, n := range counts {
			total += n
		}
		fmt.Fprintf(e.stdout, "demo-seed: %s has %d tables, %d rows\n", name, len(counts), total)
	}
	// --if-missing (what `make run` uses) fills only a missing or empty media folder and leaves any other alone.
	if *ifMissing && !demo.MediaUntouched(a.cfg.MediaRoot) {
		fmt.Fprintf(e.stdout, "demo-seed: %s already has files; left as it is\n", a.cfg.MediaRoot)
		return nil
	}
	files, err := demo.SeedMedia(a.cfg.MediaRoot, 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "demo-seed: wrote %d media files under %s\n", len(files), a.cfg.MediaRoot)
	return nil
}
