// Package pgclienttest builds fake installed PostgreSQL clients for tests: each reports the version the test
// asks for and otherwise runs the real program, so dumps and restores through them really work.
package pgclienttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Layout creates a Debian-style search root, <root>/<major>/bin/{pg_dump,pg_restore}, one folder per version
// given ("14.9", "17.1"), and returns the root (for PG_CLIENT_SEARCH_ROOT).
func Layout(t testing.TB, versions ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, v := range versions {
		major := v
		for i := range v {
			if v[i] == '.' {
				major = v[:i]
				break
			}
		}
		writeBin(t, filepath.Join(root, major, "bin"), v)
	}
	return root
}

// BinDir creates one folder holding pg_dump and pg_restore that report version, for PG_BIN_DIR.
func BinDir(t testing.TB, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	writeBin(t, dir, version)
	return dir
}

func writeBin(t testing.TB, dir, version string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"pg_dump", "pg_restore"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			t.Fatalf("pgclienttest: the real %s is needed: %v", prog, err)
		}
		script := "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo '" + prog + " (PostgreSQL) " + version +
			" (fake for tests)'; exit 0; fi\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, prog), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
