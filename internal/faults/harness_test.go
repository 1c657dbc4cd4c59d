//go:build faults

package faults

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pisbackup-faults-")
	if err != nil {
		panic(err)
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	binary = filepath.Join(dir, "pisbackup")
	build := exec.Command("go", "build", "-o", binary, "./cmd/pisbackup")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		panic("build pisbackup: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one isolated installation: catalog, demo source, storage, key, and a slow pg_dump.
type world struct {
	env     []string
	storage string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	_, catalog := testdb.Catalog(t)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	key := filepath.Join(dir, "identity.txt")
	require.NoError(t, os.WriteFile(key, []byte(id.String()+"\n"), 0o600))
	w := &world{storage: filepath.Join(dir, "backups")}
	src := testdb.Source(t)
	// Drills and restores run as the CREATEDB-only restore role: the source's owner is refused (issue 13).
	w.env = append(os.Environ(), "DATABASE_URL="+catalog, "SOURCE_DATABASE_URL="+src, "RESTORE_DATABASE_URL="+testdb.RestoreURL(t, src),
		"BACKUP_STORAGE=file://"+w.storage, "BACKUP_AGE_IDENTITY_FILE="+key, "MEDIA_ROOT="+filepath.Join(dir, "media"),
		"LOG_FORMAT=json", "PORT=0")
	return w
}

// start runs a pisbackup command in its own process group, so a kill takes its pg_dump children too.
func (w *world) start(t *testing.T, extraEnv []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append([]string{}, w.env...), extraEnv...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], logs.String())
		}
	})
	return cmd
}

// run runs a pisbackup command to completion.
func (w *world) run(t *testing.T, extraEnv []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append([]string{}, w.env...), extraEnv...)
	out, err := cmd.Output()
	return string(out), err
}

func (w *world) dsn() string {
	for _, e := range w.env {
		if len(e) > 13 && e[:13] == "DATABASE_URL=" {
			return e[13:]
		}
	}
	return ""
}
