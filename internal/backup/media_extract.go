package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrUnsafeEntry marks a tar entry that would write outside the target directory: an absolute path, a ".."
// component, or a link whose target leaves the directory. Restores refuse the whole archive on the first one.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// SafeName checks a media path (a tar entry's name, or a FileField value naming a file under MEDIA_ROOT) and
// returns it cleaned, slash-separated. It refuses, with an error naming the path, an empty or absolute name, a
// backslash, any ".." component, and anything else that is not a local path: whatever it accepts stays inside
// the directory it is joined to.
func SafeName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || filepath.IsAbs(name) {
		return "", fmt.Errorf("absolute or malformed path %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q contains '..'", name)
		}
	}
	clean := path.Clean(name)
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", fmt.Errorf("%q is not a local path", name)
	}
	return clean, nil
}

// safeName is SafeName for tar entries: its refusals are ErrUnsafeEntry.
func safeName(name string) (string, error) {
	clean, err := SafeName(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsafeEntry, err)
	}
	return clean, nil
}

// safeLink checks a symlink's target as seen from the link's own directory, and a hard link's target as an
// archive path; either must stay inside the extraction directory.
func safeLink(hdr *tar.Header, name string) error {
	target := hdr.Linkname
	if hdr.Typeflag == tar.TypeSymlink {
		if path.IsAbs(target) {
			return fmt.Errorf("%w: symlink %q points to absolute %q", ErrUnsafeEntry, name, target)
		}
		target = path.Join(path.Dir(name), target)
	}
	if target == "" || strings.HasPrefix(target, "/") || !filepath.IsLocal(filepath.FromSlash(path.Clean(target))) {
		return fmt.Errorf("%w: link %q points outside the target directory (%q)", ErrUnsafeEntry, name, hdr.Linkname)
	}
	return nil
}

// ExtractMedia unpacks a media tar into dir, which must be empty or not exist yet: a restore never mixes with
// or overwrites files already there. It refuses absolute paths, "..", and links leading outside dir; all file
// operations go through an os.Root so even a link planted earlier cannot redirect a write. It returns every
// regular file written with its size and SHA-256 (hashed while writing).
func ExtractMedia(r io.Reader, dir string) ([]MediaFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return nil, err
	} else if len(ents) > 0 {
		return nil, fmt.Errorf("target directory %s is not empty; restore into a new or empty directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var out []MediaFile
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read archive: %w", err)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return out, err
		}
		local := filepath.FromSlash(name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(local, 0o755)
		case tar.TypeReg:
			var f MediaFile
			if f, err = extractFile(root, local, name, tr); err == nil {
				out = append(out, f) // only files written whole are reported restored
				if !hdr.ModTime.IsZero() {
					_ = root.Chtimes(local, hdr.ModTime, hdr.ModTime) // keep upload dates; the bytes are what matters
				}
			}
		case tar.TypeXGlobalHeader:
			continue // metadata only (e.g. from `git archive`); writes nothing
		case tar.TypeSymlink, tar.TypeLink:
			if err = safeLink(hdr, name); err != nil {
				return out, err
			}
			if err = root.MkdirAll(filepath.Dir(local), 0o755); err == nil {
				if hdr.Typeflag == tar.TypeSymlink {
					err = root.Symlink(hdr.Linkname, local)
				} else {
					err = root.Link(filepath.FromSlash(path.Clean(hdr.Linkname)), local)
				}
			}
		default:
			return out, fmt.Errorf("%w: %q has unsupported type %q", ErrUnsafeEntry, name, hdr.Typeflag)
		}
		if err != nil {
			return out, fmt.Errorf("extract %s: %w", name, err)
		}
	}
}

func extractFile(root *os.Root, local, name string, r io.Reader) (MediaFile, error) {
	if err := root.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return MediaFile{}, err
	}
	f, err := root.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return MediaFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return MediaFile{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}
