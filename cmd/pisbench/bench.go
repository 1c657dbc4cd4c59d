package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/demo"
)

const pgSocket = "/var/run/postgresql"

// bench holds one run's environment: a bench catalog, the synthetic source, storage and key under workdir.
type bench struct {
	o       options
	srcName string
	srcURL  string
	catURL  string
	catName string
	cat     *pgxpool.Pool
	env     []string
	results []result
}

// patientsPerGB was measured: demo.Seed with 250,000 patients builds ~756 MB.
const patientsPerGB = 330000

func newBench(ctx context.Context, o options) (*bench, error) {
	b := &bench{o: o}
	if _, err := os.Stat(o.bin); err != nil {
		return nil, fmt.Errorf("%s not built (run make build): %w", o.bin, err)
	}
	admin := "postgres://postgres@/postgres?host=" + pgSocket
	patients := max(1000, int(o.gb*patientsPerGB))
	b.srcName = fmt.Sprintf("pis_bench_%d", patients)
	b.srcURL = fmt.Sprintf("postgres://postgres@/%s?host=%s", b.srcName, pgSocket)
	// The catalog is this run's own, so two benches (two worktrees) never drop each other's.
	b.catName = fmt.Sprintf("pisbackup_bench_%d", os.Getpid())
	b.catURL = "postgres://postgres@/" + b.catName + "?host=" + pgSocket
	if err := demo.EnsureDatabase(ctx, dbconn.MustParse(admin), b.srcName); err != nil {
		return nil, err
	}
	if !hasPatients(ctx, b.srcURL, patients) {
		fmt.Fprintf(os.Stderr, "pisbench: building %s (%d patients, ~%.2f GB)…\n", b.srcName, patients, o.gb)
		if _, err := demo.Seed(ctx, dbconn.MustParse(b.srcURL), demo.Options{Patients: patients, Seed: 1}); err != nil {
			return nil, err
		}
	}
	// A fresh catalog each run, so history from earlier runs does not skew the figures.
	if err := dropDB(ctx, admin, b.catName); err != nil {
		return nil, err
	}
	if err := demo.EnsureDatabase(ctx, dbconn.MustParse(admin), b.catName); err != nil {
		return nil, err
	}
	// Drills run a dump's SQL, so they connect as a CREATEDB-only role, as in production (and make run).
	if err := ensureRestoreRole(ctx, admin); err != nil {
		return nil, err
	}
	work, _ := filepath.Abs(o.workdir)
	_ = os.RemoveAll(filepath.Join(work, "storage"))
	b.env = append(os.Environ(), "DATABASE_URL="+b.catURL, "SOURCE_DATABASE_URL="+b.srcURL,
		"RESTORE_DATABASE_URL=postgres://"+restoreRole+"@/postgres?host="+pgSocket,
		"BACKUP_STORAGE=file://"+filepath.Join(work, "storage"), "MEDIA_ROOT="+filepath.Join(work, "media"),
		"BACKUP_AGE_IDENTITY_FILE="+filepath.Join(work, "identity.txt"), "LOG_LEVEL=warn", "LOG_FORMAT=json")
	if err := b.ensureKey(work); err != nil {
		return nil, err
	}
	if _, err := b.pis(ctx, "migrate"); err != nil {
		return nil, err
	}
	var err error
	b.cat, err = pgxpool.New(ctx, b.catURL)
	return b, err
}

func (b *bench) close() {
	if b.cat != nil {
		b.cat.Close()
	}
	if b.catName != "" {
		_ = dropDB(context.Background(), "postgres://postgres@/postgres?host="+pgSocket, b.catName)
	}
}

func (b *bench) ensureKey(work string) error {
	key := filepath.Join(work, "identity.txt")
	if _, err := os.Stat(key); err == nil {
		return nil
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	out, err := exec.Command("age-keygen", "-o", key).CombinedOutput()
	if err != nil {
		return fmt.Errorf("age-keygen: %v: %s", err, out)
	}
	return nil
}

// pis runs the pisbackup binary with the bench environment.
func (b *bench) pis(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.o.bin, args...)
	cmd.Env = b.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("pisbackup %s: %v: %s", strings.Join(args, " "), err, tailString(errb.String(), 600))
	}
	return out.String(), nil
}

var maxRSS = regexp.MustCompile(`MAXRSS=(\d+)`)

// timed runs a shell pipeline under /usr/bin/time and returns wall seconds and the peak RSS in KiB of the
// measured process tree's largest member.
func (b *bench) timed(ctx context.Context, shell string) (float64, int64, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/time", "-f", "MAXRSS=%M", "bash", "-o", "pipefail", "-c", shell)
	cmd.Env = b.env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start).Seconds()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v: %s", shell, err, tailString(errb.String(), 600))
	}
	var rss int64
	if m := maxRSS.FindStringSubmatch(errb.String()); m != nil {
		rss, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return wall, rss, nil
}

func hasPatients(ctx context.Context, url string, n int) bool {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var got int
	err = conn.QueryRow(ctx, `SELECT CASE WHEN to_regclass('public.patients_patient') IS NULL THEN 0
		ELSE (SELECT count(*) FROM public.patients_patient) END`).Scan(&got)
	return err == nil && got == n
}

// restoreRole is the CREATEDB-only login drills connect as (the same one `make run` creates).
const restoreRole = "pisbackup_restore"

func ensureRestoreRole(ctx context.Context, admin string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, restoreRole).Scan(&exists); err != nil || exists {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE ROLE "+restoreRole+" LOGIN NOSUPERUSER NOCREATEROLE CREATEDB")
	return err
}

func dropDB(ctx context.Context, admin, name string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
