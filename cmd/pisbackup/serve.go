package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/handlers"
	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("serve", "serve the web UI and API (and run workers unless --no-workers)", cmdServe)
	register("worker", "run the job workers and schedules without serving HTTP", cmdWorker)
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "[--no-workers] [--addr HOST:PORT]")
	noWorkers := fs.Bool("no-workers", false, "only serve HTTP; another process runs `pisbackup worker`")
	addr := fs.String("addr", "", "listen address (default :$PORT)")
	if err := parse(fs, args); err != nil {
		return err
	}
	source := "PORT" // what to blame when listening fails: the flag when given, else the variable
	if *addr != "" {
		source = "--addr"
		if _, port, err := net.SplitHostPort(*addr); err != nil || port == "" {
			return usageErr(fmt.Sprintf("--addr must be HOST:PORT or :PORT, got %q", *addr))
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return usageErr(fmt.Sprintf("--addr: port must be a number from 0 to 65535, got %q", port))
		}
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.checkRestoreRole(ctx); err != nil {
		return err
	}
	mode := jobs.Worker
	if *noWorkers {
		mode = jobs.InsertOnly
	}
	client, stopWorkers, err := startClient(ctx, d, mode)
	if err != nil {
		return err
	}
	defer stopWorkers()
	ui, err := jobUI(ctx, client, a.log)
	if err != nil {
		return err
	}
	auth.WarmUp()
	// The same checks as `pisbackup preflight`, kept fresh in the background for the dashboard and health API.
	checks := preflight.NewMonitor(preflight.Env{Cfg: a.cfg, Catalog: a.pool, Store: d.Store, Getenv: e.getenv,
		DevIdentity: devIdentityFile}, 5*time.Minute)
	checks.Latest() // start the first run now, so the first dashboard already has it
	h := handlers.New(handlers.Deps{Pool: a.pool, Q: queries.New(a.pool), River: client, Cfg: a.cfg,
		Store: d.Store, Keys: d.Keys, Log: a.log, RiverUI: ui, Preflight: checks})
	if *addr == "" {
		*addr = ":" + strconv.Itoa(a.cfg.Port)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%s: cannot listen on %s: %w", source, *addr, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(e.stdout, "pisbackup: serving on http://localhost:%d (workers %s)\n", port, map[bool]string{true: "off", false: "on"}[*noWorkers])
	srv := handlers.NewServer(h)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func cmdWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "worker", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.checkRestoreRole(ctx); err != nil {
		return err
	}
	_, stop, err := startClient(ctx, d, jobs.Worker)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(e.stdout, "pisbackup: worker running")
	<-ctx.Done()
	return nil
}

// startClient builds the River client and, in Worker mode, starts it; stop waits for running jobs to wind
// down (cancelling them after a grace period, which marks their rows failed rather than leaving them running).
func startClient(ctx context.Context, d *jobs.Deps, mode jobs.Mode) (*river.Client[pgx.Tx], func(), error) {
	client, err := jobs.NewClient(d, mode, "")
	if err != nil {
		return nil, nil, err
	}
	if mode != jobs.Worker {
		return client, func() {}, nil
	}
	if err := client.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("start workers: %w", err)
	}
	return client, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		if err := client.Stop(sctx); err != nil {
			_ = client.StopAndCancel(context.WithoutCancel(ctx))
		}
	}, nil
}
