package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// maxKeyLen keeps keys well under S3's 1024-byte limit and typical PATH_MAX.
const maxKeyLen = 512

// ValidateKey rejects keys that could escape the store root or mean different
// things on the two backends: empty keys, keys over 512 bytes, absolute paths,
// "..", "." or empty segments, backslashes, NUL and other control characters,
// invalid UTF-8, and keys inside the temporary area ".tmp/".
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("storage: empty key")
	case len(key) > maxKeyLen:
		return fmt.Errorf("storage: key longer than %d bytes", maxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("storage: key %q is not valid UTF-8", key)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("storage: key %q must be relative", key)
	case strings.Contains(key, `\`):
		// A backslash is a separator on Windows and would let a key escape there.
		return fmt.Errorf("storage: key %q contains a backslash", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("storage: key %q contains a control character", key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		// filepath.Join would silently clean "." and "" segments, so the file
		// backend would store a different key than S3 does; reject them outright.
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("storage: key %q has an empty, \".\" or \"..\" segment", key)
		}
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return fmt.Errorf("storage: key %q is inside the reserved %s/ area", key, tmpDir)
	}
	return nil
}

// validatePrefix accepts "" (everything) or a prefix whose directory part is a
// valid key, so List cannot be pointed outside the store or at temporaries.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("storage: invalid list prefix: %w", err)
	}
	return nil
}

// BackupKey builds kind/YYYY/MM/DD/<kind>-<20060102T150405Z>-<id>.<ext> in UTC,
// so keys sort chronologically and day directories are easy to prune.
// kind must not contain "." or "/" (ManifestKey splits the name at the first dot).
func BackupKey(kind string, t time.Time, id int64, ext string) string {
	t = t.UTC()
	return fmt.Sprintf("%s/%s/%s-%s-%d.%s",
		kind, t.Format("2006/01/02"), kind, t.Format("20060102T150405Z"), id, ext)
}

// ManifestKey is the sidecar manifest for an artifact: the extension (everything
// after the first "." of the file name) becomes "manifest.json", so
// NAME.dump.zst.age and NAME.tar.zst.age both map to NAME.manifest.json.
func ManifestKey(artifactKey string) string {
	dir, name := path.Split(artifactKey)
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	return dir + name + ".manifest.json"
}

// tempName names a temporary object: a random part so concurrent writers of
// the same key never clash, plus the flattened key so an operator looking at
// .tmp/ can tell what was being written. Only the key's tail is kept so the
// name stays under the 255-byte NAME_MAX of common filesystems.
func tempName(key string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	flat := strings.ReplaceAll(key, "/", "_")
	if len(flat) > 200 {
		flat = flat[len(flat)-200:]
		for !utf8.RuneStart(flat[0]) { // S3 names must stay valid UTF-8
			flat = flat[1:]
		}
	}
	return hex.EncodeToString(b[:]) + "-" + flat
}

// IsSidecar reports whether key names a sidecar (a manifest or global objects; see SidecarKeys) rather than an
// artifact.
func IsSidecar(key string) bool {
	return strings.HasSuffix(key, ".manifest.json") || strings.HasSuffix(key, globalsSuffix)
}

const globalsSuffix = ".globals.sql.zst.age"

// GlobalsKey is the sidecar holding a database backup's global objects (roles, memberships, tablespaces:
// `pg_dumpall --globals-only --no-role-passwords`), sealed like the artifact: NAME.dump.zst.age maps to
// NAME.globals.sql.zst.age.
func GlobalsKey(artifactKey string) string {
	return strings.TrimSuffix(ManifestKey(artifactKey), ".manifest.json") + globalsSuffix
}

// SidecarKeys are every object stored beside an artifact and deleted with it: its manifest and, for database
// backups, its global objects. Deleting a missing one is not an error (Store.Delete).
func SidecarKeys(artifactKey string) []string {
	return []string{ManifestKey(artifactKey), GlobalsKey(artifactKey)}
}

// DeleteArtifact deletes an artifact and every sidecar (SidecarKeys), stopping at the first error; missing
// objects are fine. Every path that removes a backup's objects (delete, retention, a failed upload) uses it.
func DeleteArtifact(ctx context.Context, st Store, artifactKey string) error {
	for _, k := range append([]string{artifactKey}, SidecarKeys(artifactKey)...) {
		if err := st.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	return nil
}
