// Command pisbench is `make bench`: it measures pisbackup against the stock tools (pg_dump, zstd, sha256sum,
// pg_restore) in the same run, on a synthetic clinic database of BENCH_GB gigabytes, and writes
// var/bench/latest.json. Figures are medians of --runs runs; targets are ratios, never absolute times.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pisbench:", err)
		os.Exit(1)
	}
}

type options struct {
	gb      float64
	runs    int
	bin     string
	out     string
	only    string
	workdir string
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pisbench", flag.ContinueOnError)
	o := options{}
	gbDefault := 1.0
	if v := os.Getenv("BENCH_GB"); v != "" {
		g, err := strconv.ParseFloat(v, 64)
		if err != nil || g <= 0 || g > 100 {
			return fmt.Errorf("BENCH_GB: want a size in GB like 1 or 0.05, got %q", v)
		}
		gbDefault = g
	}
	fs.Float64Var(&o.gb, "gb", gbDefault, "size of the synthetic clinic database in GB (BENCH_GB)")
	fs.IntVar(&o.runs, "runs", 5, "runs per measurement (the median is reported); this machine is noisy, so five")
	fs.StringVar(&o.bin, "bin", "bin/pisbackup", "the pisbackup binary to measure")
	fs.StringVar(&o.out, "out", "var/bench/latest.json", "where to write the results")
	fs.StringVar(&o.only, "only", "", "run only this group: backup, verify, http, enqueue, media")
	fs.StringVar(&o.workdir, "workdir", "var/bench", "scratch directory (artifacts, storage)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.runs < 1 {
		return fmt.Errorf("--runs must be at least 1")
	}
	b, err := newBench(ctx, o)
	if err != nil {
		return err
	}
	defer b.close()
	groups := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"backup", b.backupGroup}, {"verify", b.verifyGroup}, {"http", b.httpGroup},
		{"enqueue", b.enqueueGroup}, {"media", b.mediaGroup},
	}
	for _, g := range groups {
		if o.only != "" && o.only != g.name {
			continue
		}
		fmt.Fprintf(os.Stderr, "pisbench: %s…\n", g.name)
		if err := g.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
	}
	b.report(os.Stdout)
	return b.write(o.out)
}
