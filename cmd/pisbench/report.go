package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"
)

// result is one line of var/bench/latest.json.
type result struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline string  `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	Target   string  `json:"target"`
	Met      *bool   `json:"met,omitempty"`
}

func (b *bench) add(r result, met func(float64) bool) {
	if met != nil {
		m := met(r.Ratio)
		r.Met = &m
	}
	b.results = append(b.results, r)
}

func (b *bench) report(w io.Writer) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "pisbench %s on %s (%d cores), source %.2f GB, median of %d\n\n", time.Now().UTC().Format("2006-01-02"),
		host, runtime.NumCPU(), b.o.gb, b.o.runs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tvalue\tbaseline\tratio\ttarget\tmet")
	for _, r := range b.results {
		met := "-"
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		fmt.Fprintf(tw, "%s\t%.3g %s\t%s\t%.2f\t%s\t%s\n", r.Name, r.Value, r.Unit, r.Baseline, r.Ratio, r.Target, met)
	}
	tw.Flush()
}

func (b *bench) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(b.results, "", "  ")
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func percentile(xs []float64, p float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	i := int(p * float64(len(s)-1))
	return s[i]
}
