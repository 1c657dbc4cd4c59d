package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// historyRows is the backup history the latency targets are set for.
const historyRows = 100000

// httpGroup: dashboard and GET /api/v1/backups latency with 100,000 backups in history, 50 connections.
func (b *bench) httpGroup(ctx context.Context) error {
	if _, err := b.cat.Exec(ctx, `INSERT INTO backups (kind, status, trigger, queued_at, started_at, finished_at,
			duration_ms, bytes_read, bytes_stored, sha256, storage_key)
		SELECT (ARRAY['database','media','full'])[1 + g % 3], (ARRAY['succeeded','succeeded','succeeded','failed','warning'])[1 + g % 5],
			'schedule', now() - g * interval '5 minutes', now() - g * interval '5 minutes', now() - g * interval '5 minutes' + interval '40 s',
			40000, 600000000, 100000000, md5(g::text) || md5(g::text), 'database/bench/' || g
		FROM generate_series(1, $1) g`, historyRows); err != nil {
		return err
	}
	if _, err := b.cat.Exec(ctx, "ANALYZE backups"); err != nil {
		return err
	}
	srv, err := b.serve(ctx, true)
	if err != nil {
		return err
	}
	defer srv.stop()
	for _, ep := range []struct{ name, path string }{{"dashboard", "/"}, {"GET /api/v1/backups", "/api/v1/backups"}} {
		var p50s, p99s []float64
		for i := 0; i < b.o.runs; i++ {
			lat, err := load(ctx, srv.url+ep.path, srv.token, 50, 3000)
			if err != nil {
				return fmt.Errorf("%s: %w", ep.name, err)
			}
			p50s, p99s = append(p50s, percentile(lat, 0.50)*1000), append(p99s, percentile(lat, 0.99)*1000)
		}
		p50, p99 := median(p50s), median(p99s)
		b.add(result{Name: ep.name + " p50 (100k history, 50 conns)", Value: p50, Unit: "ms", Baseline: "25 ms", Ratio: p50 / 25, Target: "-"}, nil)
		b.add(result{Name: ep.name + " p99 (100k history, 50 conns)", Value: p99, Unit: "ms", Baseline: "25 ms", Ratio: p99 / 25, Target: "<= 1.0 (25 ms)"}, func(r float64) bool { return r <= 1.0 })
	}
	return nil
}

// load sends total GETs over conns concurrent keep-alive connections and returns each latency in seconds.
func load(ctx context.Context, url, token string, conns, total int) ([]float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}, Timeout: 30 * time.Second}
	get := func() (float64, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return time.Since(start).Seconds(), nil
	}
	for i := 0; i < 100; i++ { // warm up connections, caches and plans
		if _, err := get(); err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	per := total / conns
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				d, err := get()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return lat, firstErr
}

type served struct {
	url, token string
	cmd        *exec.Cmd
}

var servingRE = regexp.MustCompile(`serving on (http://localhost:\d+)`)

// serve starts `pisbackup serve` on a free port with an admin token for the load generator.
func (b *bench) serve(ctx context.Context, noWorkers bool) (*served, error) {
	email := "bench-admin@clinic.local"
	if _, err := b.pis(ctx, "create-user", "--email", email, "--role", "admin"); err != nil && !strings.Contains(err.Error(), "exists") {
		return nil, err
	}
	tok, err := b.pis(ctx, "create-token", "--email", email, "--name", fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", "127.0.0.1:0"}
	if noWorkers {
		args = append(args, "--no-workers")
	}
	cmd := exec.CommandContext(ctx, b.o.bin, args...)
	cmd.Env = b.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &served{token: strings.TrimSpace(tok), cmd: cmd}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			s.url = strings.Replace(m[1], "localhost", "127.0.0.1", 1)
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return s, nil
		}
	}
	s.stop()
	return nil, fmt.Errorf("serve did not start: %s", tailString(stderr.String(), 600))
}

func (s *served) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// post sends an authenticated JSON POST and decodes the reply.
func (s *served) post(ctx context.Context, path string, body, into any) error {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, msg)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}
