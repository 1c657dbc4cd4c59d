package recordrecovery

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/uscpis/pisbackup/internal/backup"
)

// Statuses of a MediaFile.
const (
	MediaRestore = "restore"       // in the backup's media set and missing from MEDIA_ROOT: an applied recovery restores it
	MediaPresent = "present"       // MEDIA_ROOT has something by that name: left alone, never overwritten
	MediaAbsent  = "not_in_backup" // the backup's media set does not hold it (or could not read it when backed up)
	MediaRefused = "refused"       // the name is absolute, contains "..", or leads outside MEDIA_ROOT
)

// MediaFile is one file named by a row the recovery writes, through one of MEDIA_REFERENCE_COLUMNS. Path is
// the stored value, cleaned (backup.SafeName) when it is safe; Size and SHA256 are the backup manifest's.
type MediaFile struct {
	Path   string `json:"path"`
	Table  string `json:"table"`
	Key    string `json:"key"`
	Column string `json:"column"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// MediaPlan is what a recovery does about media: one entry per distinct referenced path (the first row naming
// it is shown), in the order the plan writes the rows.
type MediaPlan struct {
	Root  string      `json:"-"` // MEDIA_ROOT
	Files []MediaFile `json:"files"`
	// staged maps a path to its verified copy in the staging directory (Stage).
	staged map[string]string
}

// Count is how many files have status.
func (mp *MediaPlan) Count(status string) int {
	n := 0
	for _, f := range mp.Files {
		if f.Status == status {
			n++
		}
	}
	return n
}

// Restoring is the files an applied recovery will restore, with the manifest's size and SHA-256.
func (mp *MediaPlan) Restoring() []RestoredFile {
	var out []RestoredFile
	for _, f := range mp.Files {
		if f.Status == MediaRestore {
			out = append(out, RestoredFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
		}
	}
	return out
}

// Media lists the files the plan's rows (the backup's version of each row it inserts or updates) reference
// through columns ("table.column", MEDIA_REFERENCE_COLUMNS; a table the backup lacks is skipped) and says for
// each what an applied recovery would do: restore it from m (the media manifest of the same full backup) into
// root, or leave it (present, not in the backup, refused). It reads MEDIA_ROOT through an os.Root, so a link
// inside it leading elsewhere makes the name refused, not followed. It writes nothing.
func (p *Plan) Media(columns []string, root string, m *backup.Manifest) (*MediaPlan, error) {
	mp := &MediaPlan{Root: root, Files: []MediaFile{}}
	type ref struct{ table, column string }
	var refs []ref
	for _, tc := range columns {
		t, c, ok := strings.Cut(tc, ".")
		if !ok {
			return nil, fmt.Errorf("media reference column %q is not table.column (MEDIA_REFERENCE_COLUMNS)", tc)
		}
		if name, err := p.schema.resolve(t); err == nil {
			refs = append(refs, ref{name, c})
		}
	}
	inBackup := map[string]backup.MediaFile{}
	for _, f := range m.Files {
		inBackup[f.Path] = f
	}
	unreadable := map[string]bool{}
	for _, u := range m.Unreadable {
		unreadable[u] = true
	}
	r, err := os.OpenRoot(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("MEDIA_ROOT %s: %w", root, err)
	}
	if r != nil {
		defer r.Close()
	}
	seen, seenRefused := map[string]bool{}, map[string]bool{} // by cleaned path; refused ones by stored value
	for _, s := range p.Steps {
		for _, rf := range refs {
			if rf.table != s.Table {
				continue
			}
			var v string
			if raw, ok := s.Row[rf.column]; !ok || json.Unmarshal(raw, &v) != nil || v == "" {
				continue // NULL, empty or not text: no file
			}
			f := MediaFile{Path: v, Table: s.Table, Key: s.Key, Column: rf.column}
			clean, err := backup.SafeName(v)
			switch {
			case err != nil && seenRefused[v], err == nil && seen[clean]:
				continue
			case err != nil:
				seenRefused[v] = true
				f.Status, f.Reason = MediaRefused, "unsafe name: "+err.Error()
			default:
				seen[clean] = true
				f.Path = clean
				f.Status, f.Reason = mediaStatus(r, clean, inBackup, unreadable)
				if b, ok := inBackup[clean]; ok {
					f.Size, f.SHA256 = b.Size, b.SHA256
				}
			}
			mp.Files = append(mp.Files, f)
		}
	}
	return mp, nil
}

func mediaStatus(r *os.Root, clean string, inBackup map[string]backup.MediaFile, unreadable map[string]bool) (string, string) {
	if r != nil {
		_, err := r.Lstat(filepath.FromSlash(clean))
		switch {
		case err == nil:
			return MediaPresent, "MEDIA_ROOT has a file by this name; it is never overwritten"
		case !errors.Is(err, fs.ErrNotExist):
			return MediaRefused, fmt.Sprintf("cannot be placed in MEDIA_ROOT: %v", err)
		}
	}
	switch _, ok := inBackup[clean]; {
	case unreadable[clean]:
		return MediaAbsent, "it could not be read when the backup was taken"
	case !ok:
		return MediaAbsent, "the backup's media files do not include it"
	}
	return MediaRestore, ""
}

// Stage copies every file to restore out of the media artifact a (a tar, as backup.DumpMedia writes it) into
// dir, a private staging directory, and checks each copy's size and SHA-256 against the manifest. A file the
// archive lacks, or that differs, is an error. Nothing is written under MEDIA_ROOT; Place does that.
func (mp *MediaPlan) Stage(ctx context.Context, a backup.Artifact, dir string) error {
	want := map[string]MediaFile{}
	for _, f := range mp.Files {
		if f.Status == MediaRestore {
			want[f.Path] = f
		}
	}
	mp.staged = map[string]string{}
	if len(want) == 0 {
		return nil
	}
	p, err := a.Open(ctx)
	if err != nil {
		return fmt.Errorf("open the media backup: %w", err)
	}
	defer p.Close()
	tr := tar.NewReader(p)
	for len(mp.staged) < len(want) {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the media backup: %w", err)
		}
		f, ok := want[hdr.Name]
		if !ok || hdr.Typeflag != tar.TypeReg || mp.staged[f.Path] != "" {
			continue
		}
		dst := filepath.Join(dir, fmt.Sprintf("%d", len(mp.staged)))
		sum, n, err := copyHashed(dst, tr, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return fmt.Errorf("stage %s: %w", f.Path, err)
		}
		if n != f.Size || !strings.EqualFold(sum, f.SHA256) {
			return fmt.Errorf("%s in the media backup differs from its manifest (%d bytes, sha256 %s; expected %d, %s)", f.Path, n, sum, f.Size, f.SHA256)
		}
		mp.staged[f.Path] = dst
	}
	for p := range want {
		if mp.staged[p] == "" {
			return fmt.Errorf("%s is in the media manifest but not in the archive", p)
		}
	}
	return nil
}

func copyHashed(dst string, r io.Reader, flag int) (string, int64, error) {
	out, err := os.OpenFile(dst, flag, 0o600)
	if err != nil {
		return "", 0, err
	}
	return writeHashed(out, r)
}

// writeHashed copies r into out, syncs and closes it, and returns the SHA-256 and length of what it wrote.
func writeHashed(out *os.File, r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// RestoredFile is one file a recovery put into MEDIA_ROOT: undo removes it only while it still has SHA256.
type RestoredFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Place puts the staged files into MEDIA_ROOT (created if needed), each written under a temporary name in its
// own directory and then hard-linked to its name, which fails rather than replace anything: a file that
// appeared since the plan is left alone and marked present. It returns the files it placed; on an error, the
// ones placed before it (which stay, recorded, so undo can remove them).
func (mp *MediaPlan) Place() ([]RestoredFile, error) {
	var done []RestoredFile
	if len(mp.staged) == 0 {
		return done, nil
	}
	if err := os.MkdirAll(mp.Root, 0o755); err != nil {
		return done, fmt.Errorf("MEDIA_ROOT: %w", err)
	}
	r, err := os.OpenRoot(mp.Root)
	if err != nil {
		return done, fmt.Errorf("MEDIA_ROOT: %w", err)
	}
	defer r.Close()
	for i, f := range mp.Files {
		src := mp.staged[f.Path]
		if f.Status != MediaRestore || src == "" {
			continue
		}
		placed, err := placeOne(r, f, src)
		if err != nil {
			return done, fmt.Errorf("restore %s into MEDIA_ROOT: %w", f.Path, err)
		}
		if !placed {
			mp.Files[i].Status, mp.Files[i].Reason = MediaPresent, "a file by this name appeared in MEDIA_ROOT meanwhile; left alone"
			continue
		}
		done = append(done, RestoredFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
	}
	return done, nil
}

// placeOne links a verified copy of src to f.Path inside r; false when the name is taken.
func placeOne(r *os.Root, f MediaFile, src string) (bool, error) {
	local := filepath.FromSlash(f.Path)
	if err := r.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return false, err
	}
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	tmp := filepath.Join(filepath.Dir(local), ".pisbackup-recover-"+rand.Text())
	out, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, err
	}
	defer r.Remove(tmp) // the name stays only through the link
	sum, n, err := writeHashed(out, in)
	if err != nil {
		return false, err
	}
	if n != f.Size || !strings.EqualFold(sum, f.SHA256) {
		return false, errors.New("the copy differs from the backup's manifest")
	}
	if err := r.Link(tmp, local); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// PathDigest names a restored file in the catalog without revealing its name (a column value).
func PathDigest(p string) string {
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:])
}

// CheckRestored is undo's first step for media: every file must be gone already or still hold exactly the
// bytes the recovery restored (its SHA-256). A file changed since is an error naming it, and nothing may be
// undone. It returns the files still there, for RemoveRestored.
func CheckRestored(root string, files []RestoredFile) ([]RestoredFile, error) {
	if len(files) == 0 {
		return nil, nil
	}
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("MEDIA_ROOT: %w", err)
	}
	defer r.Close()
	var there []RestoredFile
	for _, f := range files {
		sum, err := fileSHA(r, f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s in MEDIA_ROOT: %w", f.Path, err)
		}
		if !strings.EqualFold(sum, f.SHA256) {
			return nil, fmt.Errorf("%s in MEDIA_ROOT was changed after the recovery restored it; nothing was undone", f.Path)
		}
		there = append(there, f)
	}
	return there, nil
}

// RemoveRestored deletes files CheckRestored returned, each only if it still has its restored SHA-256 (one
// changed in between is left and named in the error). It returns how many it removed.
func RemoveRestored(root string, files []RestoredFile) (int, error) {
	if len(files) == 0 {
		return 0, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return 0, fmt.Errorf("MEDIA_ROOT: %w", err)
	}
	defer r.Close()
	n := 0
	var left []string
	for _, f := range files {
		sum, err := fileSHA(r, f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || !strings.EqualFold(sum, f.SHA256) {
			left = append(left, f.Path)
			continue
		}
		if err := r.Remove(filepath.FromSlash(f.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			left = append(left, f.Path)
			continue
		}
		n++
	}
	if len(left) > 0 {
		return n, fmt.Errorf("%d restored file(s) were left in MEDIA_ROOT (changed meanwhile or not removable): %s", len(left), strings.Join(left, ", "))
	}
	return n, nil
}

// fileSHA hashes a regular file inside r (a link is not followed out of it: os.Root refuses escapes).
func fileSHA(r *os.Root, p string) (string, error) {
	fi, err := r.Lstat(filepath.FromSlash(path.Clean(p)))
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is no longer a regular file", p)
	}
	f, err := r.Open(filepath.FromSlash(p))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
