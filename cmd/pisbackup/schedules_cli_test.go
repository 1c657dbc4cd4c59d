package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

// herokuRecorder writes a fake `heroku` that appends each invocation's arguments (one per line, then a
// separator) to a log, fails `auth:whoami` when loggedIn is false, and answers `pg:backups:schedules` the way
// the Heroku CLI prints it, with the zone it kept. It returns the PATH to use and the log.
func herokuRecorder(t *testing.T, loggedIn bool, keptZone ...string) (string, string) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	whoami := `echo "nurse@clinic.test"`
	if !loggedIn {
		whoami = `echo " ›   Error: not logged in" >&2; exit 100`
	}
	zone := "Asia/Manila"
	if len(keptZone) > 0 {
		zone = keptZone[0]
	}
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " + log + "; done\necho --- >> " + log +
		"\nif [ \"$1\" = auth:whoami ]; then " + whoami + "; fi\n" +
		"if [ \"$1\" = pg:backups:schedules ]; then echo '=== Backup Schedules'; echo; echo 'DATABASE_URL: daily at 2:00 " + zone + "'; fi\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "heroku"), []byte(script), 0o755))
	return dir, log
}

func scheduleEnv(t *testing.T) (map[string]string, *queries.Queries) {
	pool, catalog := testdb.Catalog(t)
	dir := t.TempDir()
	return map[string]string{"DATABASE_URL": catalog, "BACKUP_STORAGE": "file://" + dir, "LOG_FORMAT": "json"}, queries.New(pool)
}

func TestSetupSchedulesIdempotentWithHerokuArgs(t *testing.T) {
	t.Parallel()
	env, q := scheduleEnv(t)
	out, stderr, code := runCLI(t, env, "setup-schedules", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 3, strings.Count(out, "would create"), out)
	// Next runs carry their UTC offset, never Go's zone abbreviation (which says "PST" for Asia/Manila).
	require.Regexp(t, `\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC[+-]\d{2}:\d{2}`, out)
	require.NotRegexp(t, `\d{2}:\d{2} [A-Z]{3,4}([\s;,.]|$)`, out)
	rows, err := q.ScheduleList(context.Background())
	require.NoError(t, err)
	require.Empty(t, rows, "a dry run creates nothing")

	path, log := herokuRecorder(t, true)
	env["PATH"] = path
	out, stderr, code = runCLI(t, env, "setup-schedules", "--heroku-app", "usc-pis")
	require.Equal(t, 0, code, out+stderr)
	require.Equal(t, 3, strings.Count(out, "created "), out)
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "auth:whoami\n---\n"+
		"pg:backups:schedule\nDATABASE_URL\n--at\n02:00 Asia/Manila\n--app\nusc-pis\n---\n"+
		"pg:backups:schedules\n--app\nusc-pis\n---\n", string(calls), "exact arguments, one per line")

	rows, err = q.ScheduleList(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, 3)
	byName := map[string]queries.Schedule{}
	for _, s := range rows {
		byName[s.Name] = s
	}
	db := byName["Nightly database"]
	require.Equal(t, []any{"database", "daily", "02:00", "Asia/Manila", int32(7), int32(4), int32(6)},
		[]any{db.Kind, db.Cadence, db.TimeOfDay, db.Timezone, db.KeepDaily, db.KeepWeekly, db.KeepMonthly})
	require.Equal(t, "full", byName["Weekly full"].Kind)
	require.Equal(t, "drill", byName["Daily drill"].Kind)

	out, _, code = runCLI(t, env, "setup-schedules")
	require.Equal(t, 0, code)
	require.Equal(t, 3, strings.Count(out, "left unchanged"), out)
	rows, err = q.ScheduleList(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, 3, "idempotent")
}

func TestSetupSchedulesHerokuMissingOrLoggedOut(t *testing.T) {
	t.Parallel()
	env, _ := scheduleEnv(t)
	env["PATH"] = t.TempDir() // no heroku here
	out, _, code := runCLI(t, env, "setup-schedules", "--heroku-app", "usc-pis")
	require.Equal(t, 1, code)
	require.Contains(t, out, "heroku: the Heroku CLI is not on PATH")

	path, log := herokuRecorder(t, false)
	env["PATH"] = path
	out, _, code = runCLI(t, env, "setup-schedules", "--heroku-app", "usc-pis")
	require.Equal(t, 1, code)
	require.Contains(t, out, "heroku: not logged in")
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "auth:whoami\n---\n", string(calls), "nothing else runs when logged out")
}

// Some Heroku CLI versions map a zone they do not know to UTC with only a warning: the read-back catches it.
func TestSetupSchedulesHerokuZoneIsReadBack(t *testing.T) {
	t.Parallel()
	env, _ := scheduleEnv(t)
	path, _ := herokuRecorder(t, true, "UTC")
	env["PATH"] = path
	out, stderr, code := runCLI(t, env, "setup-schedules", "--heroku-app", "usc-pis")
	require.Equal(t, 1, code, out)
	require.Contains(t, stderr, `shows "DATABASE_URL: daily at 2:00 UTC", not "DATABASE_URL: daily at 2:00 Asia/Manila"`)
	require.NotContains(t, out, "confirmed")

	path, _ = herokuRecorder(t, true)
	env["PATH"] = path
	out, stderr, code = runCLI(t, env, "setup-schedules", "--heroku-app", "usc-pis")
	require.Equal(t, 0, code, out+stderr)
	require.Contains(t, out, "heroku: confirmed, Heroku's own backup runs daily at 02:00 Asia/Manila")
}

// cleanup-stuck-backups prints each row it changes; --dry-run changes nothing. monitor-backups exits 2 when
// critical (here: nothing has ever run, and a failed backup).
func TestCleanupStuckAndMonitorCLI(t *testing.T) {
	t.Parallel()
	env, q := scheduleEnv(t)
	ctx := context.Background()
	b, err := q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "cli", Encrypted: true, Format: "x"})
	require.NoError(t, err)
	_, err = q.BackupStart(ctx, b.ID)
	require.NoError(t, err)
	id := int64(987654) // a job id River never had
	require.NoError(t, q.BackupSetJob(ctx, queries.BackupSetJobParams{ID: b.ID, JobID: &id}))

	out, stderr, code := runCLI(t, env, "cleanup-stuck-backups", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "would fail: its job is gone from the queue")
	got, err := q.BackupGet(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "running", got.Status)

	out, _, code = runCLI(t, env, "cleanup-stuck-backups", "--timeout", "30m")
	require.Equal(t, 0, code)
	require.Contains(t, out, "failed: its job is gone from the queue")
	got, err = q.BackupGet(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Status)

	out, _, code = runCLI(t, env, "monitor-backups", "--json")
	require.Equal(t, 2, code)
	var rep struct {
		Status   string `json:"status"`
		Problems []struct{ Rule, Subject string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, "critical", rep.Status)
	rules := map[string]bool{}
	for _, p := range rep.Problems {
		rules[p.Rule] = true
	}
	require.True(t, rules["backup_failed"], out)
	require.True(t, rules["monitor_not_running"], out)

	_, _, code = runCLI(t, env, "cleanup-stuck-backups", "--timeout", "5s")
	require.Equal(t, 2, code, "usage error")
}

func TestCheckHerokuScheduleReadsTheCLIsForms(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"=== Backup Schedules\n\nDATABASE_URL: daily at 2:00 Asia/Manila\n",
		"\x1b[35mDATABASE_URL\x1b[39m: daily at 2:00 (Asia/Manila)\n", "HEROKU_POSTGRESQL_RED_URL: daily at 4:00 UTC\nDATABASE_URL: daily at 02:00 Asia/Manila"} {
		require.NoError(t, checkHerokuSchedule(ok), ok)
	}
	for _, bad := range []string{"", "=== Backup Schedules\n", "DATABASE_URL: daily at 2:00 UTC\n", "DATABASE_URL: daily at 3:00 Asia/Manila\n",
		"OTHER_URL: daily at 2:00 Asia/Manila\n"} {
		require.Error(t, checkHerokuSchedule(bad), bad)
	}
}
