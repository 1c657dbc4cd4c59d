package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
)

// fakeDigestRestore is a pg_restore that behaves as the real one, except as the drill's second,
// --data-only --file=- reader, where it runs script (sh) instead. It writes its pid to pidFile.
func fakeDigestRestore(t *testing.T, real, script string) (path, pidFile string) {
	dir := t.TempDir()
	path, pidFile = filepath.Join(dir, "pg_restore"), filepath.Join(dir, "pid")
	body := "#!/bin/sh\ncase \"$*\" in *--data-only*) echo $$ > " + pidFile + "; " + script + ";; esac\nexec " + real + " \"$@\"\n"
	require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
	return path, pidFile
}

// processGone says whether the pid in pidFile no longer runs (or never started).
func processGone(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return true
	}
	_, err = os.Stat("/proc/" + strings.TrimSpace(string(b)))
	return err != nil
}

// The archive's second reader (the content check) misbehaving never passes a drill, never hangs it past its
// context, and never outlives it.
func TestDrillContentReaderMisbehaves(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `CREATE TABLE big(id int, v text); INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;`)
	base, _ := drillOf(t, src)
	for name, tc := range map[string]struct {
		script  string
		timeout time.Duration
		want    string
	}{
		"exits at once":          {"exit 0", time.Minute, "content check"},
		"fails at once":          {"echo boom >&2; exit 3", time.Minute, "boom"},
		"reads then dies":        {"head -c 30000 >/dev/null; kill -9 $$", time.Minute, "content check"},
		"prints garbage":         {"cat >/dev/null; echo 'COPY nonsense'; exit 0", time.Minute, "content check"},
		"stalls without reading": {"exec sleep 600", 5 * time.Second, "deadline"},
		"stalls after reading":   {"cat >/dev/null; exec sleep 600", 5 * time.Second, "deadline"},
	} {
		t.Run(name, func(t *testing.T) {
			o := base
			o.ID = time.Now().UnixNano()
			var pidFile string
			o.PGRestore, pidFile = fakeDigestRestore(t, base.PGRestore, tc.script)
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			_, err := backup.Drill(ctx, o)
			require.ErrorContains(t, err, tc.want)
			require.Less(t, time.Since(start), tc.timeout+2*backup.StopWithin+5*time.Second, "the drill returns soon after its context ends")
			require.Eventually(t, func() bool { return processGone(pidFile) }, 5*time.Second, 50*time.Millisecond, "the reader does not outlive the drill")
		})
	}
}

// The content check's pg_restore gets no connection and none of pisbackup's secrets: its command line is
// --data-only --file=- and its environment carries no PG connection setting, pass file or password.
func TestDrillContentReaderGetsNoSecrets(t *testing.T) {
	t.Parallel()
	o, _ := drillOf(t, sourceWith(t, `CREATE TABLE p(id int); INSERT INTO p VALUES (1);`))
	dir := t.TempDir()
	envFile, argsFile := filepath.Join(dir, "env"), filepath.Join(dir, "args")
	real := o.PGRestore
	o.PGRestore, _ = fakeDigestRestore(t, real, "env > "+envFile+"; echo \"$*\" > "+argsFile)
	res, err := backup.Drill(context.Background(), o)
	require.NoError(t, err, res)
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	require.Equal(t, "--data-only --file=-", strings.TrimSpace(string(args)))
	env, err := os.ReadFile(envFile)
	require.NoError(t, err)
	for _, kv := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		k, _, _ := strings.Cut(kv, "=")
		for _, bad := range []string{"PGPASS", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", "PGOPTIONS", "DATABASE_URL", "RESTORE_DATABASE_URL"} {
			require.False(t, strings.HasPrefix(k, bad), "%s reaches the content check's pg_restore", k)
		}
	}
}
