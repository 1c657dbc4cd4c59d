package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
)

// enqueueGroup: from "Back up now" (POST /api/v1/backups) to the worker starting the job, median. A small
// source keeps each run short; the latency measured does not depend on its size.
func (b *bench) enqueueGroup(ctx context.Context) error {
	small := "pis_bench_small"
	admin := "postgres://postgres@/postgres?host=" + pgSocket
	smallURL := fmt.Sprintf("postgres://postgres@/%s?host=%s", small, pgSocket)
	if err := demo.EnsureDatabase(ctx, dbconn.MustParse(admin), small); err != nil {
		return err
	}
	if _, err := demo.Seed(ctx, dbconn.MustParse(smallURL), demo.Options{Patients: 200, Seed: 1}); err != nil {
		return err
	}
	saved := b.env
	b.env = append(append([]string{}, b.env...), "SOURCE_DATABASE_URL="+smallURL)
	defer func() { b.env = saved }()
	srv, err := b.serve(ctx, false)
	if err != nil {
		return err
	}
	defer srv.stop()
	time.Sleep(2 * time.Second) // let the worker finish its start-up jobs (reconcile, scheduler) first
	var lat []float64
	for i := 0; i < max(5, b.o.runs); i++ {
		var got struct {
			Backup struct{ ID int64 } `json:"backup"`
			ID     int64              `json:"id"`
		}
		if err := srv.post(ctx, "/api/v1/backups", map[string]string{"kind": "database"}, &got); err != nil {
			return err
		}
		id := got.ID
		if id == 0 {
			id = got.Backup.ID
		}
		var ms float64
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var status string
			err := b.cat.QueryRow(ctx, `SELECT status, COALESCE(extract(epoch FROM started_at - queued_at) * 1000, -1)
				FROM backups WHERE id = $1`, id).Scan(&status, &ms)
			if err != nil {
				return err
			}
			if status != "queued" && status != "running" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("backup %d did not finish", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ms < 0 {
			return fmt.Errorf("backup %d never started", id)
		}
		lat = append(lat, ms)
	}
	m := median(lat)
	b.add(result{Name: "enqueue to running (median)", Value: m, Unit: "ms", Baseline: "250 ms", Ratio: m / 250, Target: "<= 1.0 (250 ms)"}, func(r float64) bool { return r <= 1.0 })
	return nil
}

// mediaGroup: media migration of 2,000 small files at --concurrency 8 against the local Cloudinary-compatible
// server, through the package's own measurement test (the fake server lives in test support code).
func (b *bench) mediaGroup(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "TestThroughput2000SmallFiles", "-v", "./internal/mediamigration/")
	cmd.Env = append(append([]string{}, b.env...), "PISBACKUP_MEASURE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("media throughput: %v: %s", err, tailString(string(out), 800))
	}
	var fps float64
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "files/s"); i > 0 {
			f := strings.Fields(line[:i])
			fmt.Sscanf(f[len(f)-1], "%g", &fps)
		}
	}
	if fps == 0 {
		return fmt.Errorf("media throughput: no figure in output: %s", tailString(string(out), 800))
	}
	b.add(result{Name: "media migration, 2,000 small files, concurrency 8", Value: fps, Unit: "files/s", Baseline: "100 files/s", Ratio: fps / 100, Target: ">= 1.0 (100 files/s)"}, func(r float64) bool { return r >= 1.0 })
	return nil
}
