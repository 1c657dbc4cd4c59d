// Package mediamigration moves MEDIA_ROOT to Cloudinary with a ledger: every file is hashed, uploaded under
// the name the clinic app will request (see Naming), verified against what Cloudinary stored (bytes and MD5
// etag), and only then counted, mapped, or (on request) deleted locally. A re-run skips what is already
// verified under the same name, so an interrupted run resumes.
package mediamigration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// skipNames are clutter from desktops and git checkouts that never belongs in Cloudinary.
var skipNames = map[string]bool{".DS_Store": true, "Thumbs.db": true, ".gitkeep": true, ".gitignore": true}

// Item is one file to migrate.
type Item struct {
	Rel          string `json:"path"` // slash-separated, relative to MEDIA_ROOT: the value a FileField stores
	Size         int64  `json:"size"`
	ResourceType string `json:"resource_type"`
	PublicID     string `json:"public_id"`
	// Problem, when set, says why the app could never resolve this file under its name (see Naming.Problem);
	// such a file is not uploaded and is recorded as failed with what to do.
	Problem string `json:"problem,omitempty"`
	// Conflict names the file that already took this public id; such a file is not uploaded (it would
	// overwrite the other one in Cloudinary) and is recorded as failed for a person to rename.
	Conflict string `json:"conflict,omitempty"`
}

// Plan walks root and returns the files to migrate in path order, skipping clutter. refs gives the resource
// type of every referenced path (from the FileField columns, see References); other files go to image when
// they are one and raw otherwise. Two files that would get the same asset (report.pdf and report.png under
// image storage) would overwrite each other in Cloudinary, as they would in the app: the later is a Conflict.
func Plan(root string, n Naming, refs map[string]string) ([]Item, error) {
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
	owner := map[Asset]string{}
	for i := range items {
		it := &items[i]
		rt, referenced := refs[it.Rel]
		if !referenced {
			rt = typeForUnreferenced(it.Rel)
		}
		a := n.AssetFor(it.Rel, rt)
		it.ResourceType, it.PublicID = a.ResourceType, a.PublicID
		if reason, fix := n.Problem(it.Rel, rt); reason != "" {
			it.Problem = reason + "; " + fix
			continue
		}
		if o, taken := owner[a]; taken {
			it.Conflict = o
			continue
		}
		owner[a] = it.Rel
	}
	return items, nil
}

// Report is the dry-run summary: what a run would upload, by top-level folder.
type Report struct {
	Files     int            `json:"files"`
	Bytes     int64          `json:"bytes"`
	Conflicts int            `json:"conflicts"`
	Problems  int            `json:"problems"`
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
		if it.Problem != "" {
			r.Problems++
		}
	}
	slices.SortFunc(r.Folders, func(a, b FolderTotal) int { return strings.Compare(a.Folder, b.Folder) })
	return r
}
