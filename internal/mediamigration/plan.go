// Package mediamigration moves MEDIA_ROOT to Cloudinary with a ledger: every file is hashed, uploaded with the
// seed's naming, verified against what Cloudinary stored (bytes and MD5 etag), and only then counted, mapped,
// or (on request) deleted locally. A re-run skips what is already verified, so an interrupted run resumes.
package mediamigration

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Folder is the Cloudinary folder every public id lives under, as the seed's migrate_to_cloudinary chose.
const Folder = "usc_pis_media"

// skipNames are clutter from desktops and git checkouts that never belongs in Cloudinary.
var skipNames = map[string]bool{".DS_Store": true, "Thumbs.db": true, ".gitkeep": true, ".gitignore": true}

// Item is one file to migrate.
type Item struct {
	Rel      string `json:"path"` // slash-separated, relative to MEDIA_ROOT
	Size     int64  `json:"size"`
	PublicID string `json:"public_id"`
	// Conflict names the file that already took this public id; such a file is not uploaded (it would
	// overwrite the other one in Cloudinary) and is recorded as failed for a person to rename.
	Conflict string `json:"conflict,omitempty"`
}

// PublicID is the seed's naming: the folder, then the relative path without its extension (Cloudinary adds
// the format to delivery URLs) and with spaces turned into underscores.
func PublicID(rel string) string {
	rel = strings.TrimSuffix(rel, path.Ext(rel))
	return Folder + "/" + strings.ReplaceAll(rel, " ", "_")
}

// Plan walks root and returns the files to migrate in path order, skipping clutter. Two files that would get
// the same public id (report.pdf and report.png, "a b.pdf" and "a_b.pdf") would overwrite each other in
// Cloudinary: the ones whose extension differs keep it in their id; any remaining clash is marked Conflict.
func Plan(root string) ([]Item, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("MEDIA_ROOT %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("MEDIA_ROOT %s is not a directory", root)
	}
	var items []Item
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || skipNames[d.Name()] {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		items = append(items, Item{Rel: filepath.ToSlash(rel), Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk MEDIA_ROOT: %w", err)
	}
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.Rel, b.Rel) })
	assignIDs(items)
	return items, nil
}

func assignIDs(items []Item) {
	byID := map[string][]int{}
	for i := range items {
		items[i].PublicID = PublicID(items[i].Rel)
		byID[items[i].PublicID] = append(byID[items[i].PublicID], i)
	}
	for _, idx := range byID {
		if len(idx) > 1 {
			for _, i := range idx {
				items[i].PublicID = Folder + "/" + strings.ReplaceAll(items[i].Rel, " ", "_")
			}
		}
	}
	owner := map[string]string{}
	for i := range items {
		if o, taken := owner[items[i].PublicID]; taken {
			items[i].Conflict = o
			continue
		}
		owner[items[i].PublicID] = items[i].Rel
	}
}

// Report is the dry-run summary: what a run would upload, by top-level folder.
type Report struct {
	Files     int            `json:"files"`
	Bytes     int64          `json:"bytes"`
	Conflicts int            `json:"conflicts"`
	Folders   []FolderTotal  `json:"folders"`
	Items     []Item         `json:"-"`
	byFolder  map[string]int `json:"-"`
}

// FolderTotal is one top-level folder's share.
type FolderTotal struct {
	Folder string `json:"folder"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
}

// Summarize totals a plan by top-level folder ("." for files directly in MEDIA_ROOT).
func Summarize(items []Item) *Report {
	r := &Report{Items: items, byFolder: map[string]int{}}
	for _, it := range items {
		top, _, found := strings.Cut(it.Rel, "/")
		if !found {
			top = "."
		}
		i, ok := r.byFolder[top]
		if !ok {
			i = len(r.Folders)
			r.byFolder[top] = i
			r.Folders = append(r.Folders, FolderTotal{Folder: top})
		}
		r.Folders[i].Files++
		r.Folders[i].Bytes += it.Size
		r.Files++
		r.Bytes += it.Size
		if it.Conflict != "" {
			r.Conflicts++
		}
	}
	slices.SortFunc(r.Folders, func(a, b FolderTotal) int { return strings.Compare(a.Folder, b.Folder) })
	return r
}
