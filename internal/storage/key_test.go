package storage

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"db/2024/01/02/db-20240102T030405Z-1.dump.zst.age", true},
		{"a", true},
		{"files/ünïcode name.tar", true},
		{"x/.tmp/y", true}, // only the top-level .tmp is reserved
		{".tmpfoo/x", true},
		{"", false},
		{"../x", false},
		{"..", false},
		{"/abs", false},
		{"a/../../b", false},
		{"a/..", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{`a\b`, false},
		{`..\x`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{".tmp/x", false},
		{".tmp", false},
		{"bad\xffutf8", false},
		{strings.Repeat("a", 512), true},
		{strings.Repeat("a", 513), false},
	}
	for _, tc := range tests {
		err := ValidateKey(tc.key)
		if tc.ok {
			require.NoError(t, err, "%q", tc.key)
		} else {
			require.Error(t, err, "%q", tc.key)
		}
	}
}

func TestBackupKey(t *testing.T) {
	// A non-UTC time must land in the UTC day, or keys would depend on the host's zone.
	at := time.Date(2024, 1, 2, 23, 30, 5, 0, time.FixedZone("EST", -5*3600))
	key := BackupKey("db", at, 42, "dump.zst.age")
	require.Equal(t, "db/2024/01/03/db-20240103T043005Z-42.dump.zst.age", key)
	require.NoError(t, ValidateKey(key))
	require.Equal(t, "db/2024/01/03/db-20240103T043005Z-42.manifest.json", ManifestKey(key))

	files := BackupKey("files", at, 7, "tar.zst.age")
	require.Equal(t, "files/2024/01/03/files-20240103T043005Z-7.manifest.json", ManifestKey(files))
	require.Equal(t, "x.manifest.json", ManifestKey("x"))
}

// insideDir is the property the file backend relies on: an accepted key
// joins to a path strictly inside dir and is not rewritten by cleaning.
func insideDir(t *testing.T, key string) {
	dir := filepath.FromSlash("/srv/backups")
	p := filepath.Join(dir, filepath.FromSlash(key))
	rel, err := filepath.Rel(dir, p)
	require.NoError(t, err)
	require.NotEqual(t, ".", rel, "%q resolves to the root", key)
	require.False(t, rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)), "%q escapes: %q", key, rel)
	require.Equal(t, key, filepath.ToSlash(rel), "%q was rewritten by Join", key)
	require.False(t, strings.HasPrefix(rel, tmpDir+string(filepath.Separator)), "%q is inside .tmp", key)
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"db/a.dump", "../x", "/abs", "a/../../b", ".tmp/x", "a//b", `a\b`, "a\x00", "./a", "a/."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) == nil {
			insideDir(t, key)
		}
	})
}

var simpleName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

func FuzzBackupKey(f *testing.F) {
	f.Add("db", int64(1704164400), int64(1), "dump.zst.age")
	f.Add("../..", int64(-1), int64(-5), "/etc/passwd")
	f.Add("files", int64(1<<40), int64(0), "tar.zst.age")
	f.Fuzz(func(t *testing.T, kind string, sec, id int64, ext string) {
		at := time.Unix(sec, 0)
		key := BackupKey(kind, at, id, ext)
		manifest := ManifestKey(key)
		if ValidateKey(key) == nil {
			insideDir(t, key)
		}
		if ValidateKey(manifest) == nil {
			insideDir(t, manifest)
		}
		// For the names pisbackup actually uses, keys are valid and the
		// manifest sits next to the artifact.
		if simpleName.MatchString(kind) && simpleName.MatchString(strings.ReplaceAll(ext, ".", "_")) &&
			!strings.HasPrefix(ext, ".") && !strings.HasSuffix(ext, ".") && !strings.Contains(ext, "..") &&
			at.Year() >= 1000 && at.Year() <= 9999 {
			require.NoError(t, ValidateKey(key))
			require.Equal(t, BackupKey(kind, at, id, "manifest.json"), manifest)
		}
	})
}
