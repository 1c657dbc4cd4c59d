package testdb

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SlowPGDumpDir returns a PG_BIN_DIR whose pg_dump streams the real dump in 8 KiB chunks with pause seconds
// between them (e.g. "0.05"), so a test can act mid-stream (watch progress, kill a worker, restart the server)
// instead of racing a dump that takes a fraction of a second. pg_restore is the real one.
func SlowPGDumpDir(t testing.TB, pause string) string {
	t.Helper()
	dir := t.TempDir()
	real, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	restore, err := exec.LookPath("pg_restore")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	script := "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then exec " + real + " --version; fi\n" + real +
		` "$@" | perl -e '$|=1; while (read(STDIN, $b, 8192)) { print $b; select(undef, undef, undef, ` + pause + `) }'` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if err := os.Symlink(restore, filepath.Join(dir, "pg_restore")); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return dir
}

// SlowPGRestoreDir returns a PG_BIN_DIR whose pg_restore reads its input in 8 KiB chunks with pause seconds
// between them, so a test can kill a drill or restore mid-way. pg_dump is the real one.
func SlowPGRestoreDir(t testing.TB, pause string) string {
	t.Helper()
	dir := t.TempDir()
	dump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	real, err := exec.LookPath("pg_restore")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	script := "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then exec " + real + " --version; fi\n" +
		`perl -e '$|=1; while (read(STDIN, $b, 8192)) { print $b; select(undef, undef, undef, ` + pause + `) }' | ` +
		real + ` "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "pg_restore"), []byte(script), 0o755); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if err := os.Symlink(dump, filepath.Join(dir, "pg_dump")); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return dir
}
