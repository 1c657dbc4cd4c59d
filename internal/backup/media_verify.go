package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// MediaCheck compares a media archive with its manifest. Problems lists every difference in words a person can
// act on; an empty list means the archive holds exactly what the manifest promises.
type MediaCheck struct {
	Files    int      `json:"files"`
	Bytes    int64    `json:"bytes"`
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether the archive matched its manifest.
func (c *MediaCheck) OK() bool { return len(c.Problems) == 0 }

// maxProblems keeps a badly damaged archive's report readable.
const maxProblems = 50

func (c *MediaCheck) problem(format string, a ...any) {
	if len(c.Problems) == maxProblems {
		c.Problems = append(c.Problems, "… further differences not listed")
	}
	if len(c.Problems) < maxProblems {
		c.Problems = append(c.Problems, fmt.Sprintf(format, a...))
	}
}

// CheckMediaArchive is the "archive" level for media: it reads the decrypted tar listing (every entry's name,
// type and size; contents are skipped, not hashed) and compares it with the manifest's file list. Entries the
// manifest lists as unreadable are expected in the tar (padded) and ignored.
func CheckMediaArchive(plain io.Reader, m *Manifest) (*MediaCheck, error) {
	want := manifestFiles(m)
	unreadable := make(map[string]bool, len(m.Unreadable))
	for _, u := range m.Unreadable {
		unreadable[u] = true
	}
	c := &MediaCheck{}
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("read archive: %w", err)
		}
		if _, err := safeName(hdr.Name); err != nil {
			c.problem("%v", err)
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			c.problem("unexpected %q entry %s", hdr.Typeflag, hdr.Name)
			continue
		}
		c.Files++
		c.Bytes += hdr.Size
		f, ok := want[hdr.Name]
		switch {
		case unreadable[hdr.Name]:
			c.Files--
		case !ok:
			c.problem("%s is in the archive but not in the manifest", hdr.Name)
		case f.Size != hdr.Size:
			c.problem("%s: archive has %d bytes, manifest says %d", hdr.Name, hdr.Size, f.Size)
		}
		delete(want, hdr.Name)
	}
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return c, err
	}
	c.reportMissing(want)
	return c, nil
}

// DrillMedia is the "drill" level for media: it extracts the archive into a fresh temporary directory under
// tmpParent (os.TempDir when empty), compares every file's SHA-256 and size with the manifest, and removes the
// directory afterwards, also on failure.
func DrillMedia(plain io.Reader, m *Manifest, tmpParent string) (*MediaCheck, error) {
	dir, err := os.MkdirTemp(tmpParent, "pisbackup-drill-media-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	got, err := ExtractMedia(plain, dir)
	if err != nil {
		return nil, err
	}
	// Read to the end so the zstd checksum and the last age chunk are proven too.
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return nil, err
	}
	return CompareMediaFiles(got, m), nil
}

// RestoreMedia extracts a stored media artifact into dir (new or empty; see ExtractMedia) and checks every
// restored file against the manifest. The returned check lists any difference; an unsafe entry or a damaged
// artifact is an error.
func RestoreMedia(ctx context.Context, a Artifact, m *Manifest, dir string) (*MediaCheck, error) {
	p, err := a.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	got, err := ExtractMedia(p, dir)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, p); err != nil {
		return nil, err
	}
	return CompareMediaFiles(got, m), nil
}

// CompareMediaFiles compares extracted files (path, size, SHA-256) with the manifest.
func CompareMediaFiles(got []MediaFile, m *Manifest) *MediaCheck {
	want := manifestFiles(m)
	unreadable := map[string]bool{}
	for _, u := range m.Unreadable {
		unreadable[u] = true
	}
	c := &MediaCheck{}
	for _, g := range got {
		if unreadable[g.Path] {
			continue
		}
		c.Files++
		c.Bytes += g.Size
		f, ok := want[g.Path]
		switch {
		case !ok:
			c.problem("%s was restored but is not in the manifest", g.Path)
		case f.Size != g.Size || !strings.EqualFold(f.SHA256, g.SHA256):
			c.problem("%s differs from the manifest (sha256 %s, expected %s)", g.Path, short(g.SHA256), short(f.SHA256))
		}
		delete(want, g.Path)
	}
	c.reportMissing(want)
	return c
}

func (c *MediaCheck) reportMissing(want map[string]MediaFile) {
	var left []string
	for p := range want {
		left = append(left, p)
	}
	sortStrings(left)
	for _, p := range left {
		c.problem("%s is in the manifest but not in the archive", p)
	}
}

func manifestFiles(m *Manifest) map[string]MediaFile {
	want := make(map[string]MediaFile, len(m.Files))
	for _, f := range m.Files {
		want[f.Path] = f
	}
	return want
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
