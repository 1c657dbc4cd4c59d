package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/queries"
)

func init() {
	register("setup-schedules", "create the default schedules (idempotent); optionally Heroku's own nightly backup", cmdSetupSchedules)
}

// defaultSchedules are SPEC section 5's defaults: a nightly database backup kept 7 daily + 4 weekly + 6
// monthly, a weekly full recovery point, and a daily drill of the newest backup.
var defaultSchedules = []schedule.Input{
	{Name: "Nightly database", Kind: "database", Active: true, VerifyLevel: "archive",
		Spec:   schedule.Spec{Cadence: "daily", TimeOfDay: "02:00", Timezone: "Asia/Manila"},
		Policy: schedule.Policy{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}},
	{Name: "Weekly full", Kind: "full", Active: true, VerifyLevel: "archive",
		Spec:   schedule.Spec{Cadence: "weekly", Weekday: 0, TimeOfDay: "03:00", Timezone: "Asia/Manila"},
		Policy: schedule.Policy{KeepWeekly: 4, KeepMonthly: 6}},
	{Name: "Daily drill", Kind: "drill", Active: true, VerifyLevel: "none",
		Spec: schedule.Spec{Cadence: "daily", TimeOfDay: "05:00", Timezone: "Asia/Manila"}},
}

func cmdSetupSchedules(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "setup-schedules", "[--dry-run] [--heroku-app APP]")
	dry := fs.Bool("dry-run", false, "print what would be created and change nothing")
	app := fs.String("heroku-app", "", "also schedule Heroku's own nightly pg:backups for this app (needs the heroku CLI, logged in)")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := loadApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	q := queries.New(a.pool)
	now := time.Now()
	for _, in := range defaultSchedules {
		c, err := in.Validate()
		if err != nil {
			return err
		}
		if s, err := q.ScheduleGetByName(ctx, in.Name); err == nil {
			fmt.Fprintf(e.stdout, "exists   %q (#%d), left unchanged\n", s.Name, s.ID)
			continue
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		next := schedule.NextRun(c, in.Active, now)
		verb := "would create"
		if !*dry {
			s, err := q.ScheduleInsert(ctx, in.InsertParams(next))
			if err != nil {
				return err
			}
			verb = fmt.Sprintf("created  #%d", s.ID)
		}
		fmt.Fprintf(e.stdout, "%s %q: %s %s at %s %s, retention: %s; next run %s\n", verb, in.Name, in.Kind, in.Cadence, in.TimeOfDay,
			in.Timezone, in.Policy.String(), nextText(next, c))
	}
	if *app != "" {
		return setupHeroku(ctx, e, *app, *dry)
	}
	return nil
}

// herokuHour and herokuZone are when Heroku's own nightly backup runs: the nightly database schedule's time.
const (
	herokuHour = 2
	herokuZone = "Asia/Manila"
)

// herokuCommands are what --heroku-app runs: Heroku's own nightly backup as a second, independent copy, then
// the read-back of its schedules. Heroku keeps scheduled backups for a period set by the database plan; its
// CLI has no retention command.
func herokuCommands(app string) [][]string {
	return [][]string{
		{"pg:backups:schedule", "DATABASE_URL", "--at", fmt.Sprintf("%02d:00 %s", herokuHour, herokuZone), "--app", app},
		{"pg:backups:schedules", "--app", app},
	}
}

// herokuScheduleLine matches a line of `heroku pg:backups:schedules` ("DATABASE_URL: daily at 2:00 Asia/Manila").
var herokuScheduleLine = regexp.MustCompile(`^\s*(\S+): daily at (\d{1,2}):00 \(?([A-Za-z0-9_+\-/]+)\)?\s*$`)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// checkHerokuSchedule reads back what Heroku stored: some CLI versions map a zone they do not know to UTC
// with only a warning, and the backup would then run at another hour. nil only when a DATABASE_URL schedule
// shows the hour and the zone asked for.
func checkHerokuSchedule(out string) error {
	var seen []string
	out = ansiEscape.ReplaceAllString(out, "") // a CLI that colours its output even into a pipe
	for _, line := range strings.Split(out, "\n") {
		m := herokuScheduleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		seen = append(seen, strings.TrimSpace(line))
		hour, _ := strconv.Atoi(m[2])
		if (m[1] == "DATABASE_URL" || strings.HasSuffix(m[1], "DATABASE_URL")) && hour == herokuHour && m[3] == herokuZone {
			return nil
		}
	}
	want := fmt.Sprintf("DATABASE_URL: daily at %d:00 %s", herokuHour, herokuZone)
	if len(seen) == 0 {
		return fmt.Errorf("heroku pg:backups:schedules shows no schedule, not %q: Heroku did not keep the schedule", want)
	}
	return fmt.Errorf("heroku pg:backups:schedules shows %q, not %q: Heroku did not keep the zone, so its backup runs at another hour; "+
		"set it by hand (heroku pg:backups:schedule DATABASE_URL --at '%02d:00 %s') and check with heroku pg:backups:schedules",
		strings.Join(seen, "; "), want, herokuHour, herokuZone)
}

func setupHeroku(ctx context.Context, e *env, app string, dry bool) error {
	bin := lookPathIn("heroku", e.getenv("PATH"))
	if bin == "" {
		fmt.Fprintln(e.stdout, "heroku: the Heroku CLI is not on PATH; install it and run `heroku login`, then re-run with --heroku-app")
		return silentExit(1)
	}
	if dry {
		for _, args := range herokuCommands(app) {
			fmt.Fprintf(e.stdout, "would run: heroku %s\n", shellJoin(args))
		}
		return nil
	}
	if out, err := exec.CommandContext(ctx, bin, "auth:whoami").CombinedOutput(); err != nil {
		fmt.Fprintf(e.stdout, "heroku: not logged in (heroku auth:whoami: %s); run `heroku login` and re-run\n", herokuFirstLine(string(out)))
		return silentExit(1)
	}
	var readBack strings.Builder
	for i, args := range herokuCommands(app) {
		fmt.Fprintf(e.stdout, "running: heroku %s\n", shellJoin(args))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
		if i == len(herokuCommands(app))-1 { // the read-back: keep what it printed to check it
			cmd.Stdout = io.MultiWriter(e.stdout, &readBack)
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("heroku %s: %w", args[0], err)
		}
	}
	if err := checkHerokuSchedule(readBack.String()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "heroku: confirmed, Heroku's own backup runs daily at %02d:00 %s\n", herokuHour, herokuZone)
	fmt.Fprintln(e.stdout, "heroku: retention of Heroku's own backups is fixed by the database plan; pisbackup's schedules apply their own")
	return nil
}

// lookPath finds an executable in the given PATH (the command's environment, not the process's).
func lookPathIn(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func herokuFirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func nextText(next *time.Time, c *schedule.Cadence) string {
	if next == nil {
		return "never (manual or paused)"
	}
	return next.In(c.Location()).Format("2006-01-02 15:04 UTC-07:00") // not MST: Go prints "PST" for Asia/Manila
}
