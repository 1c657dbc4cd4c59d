package mediamigration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/queries"
)

// maxListedUnresolved bounds the values listed per column; the counts are always complete.
const maxListedUnresolved = 50

// Unresolved is one stored value the app's request would not find, with what to do.
type Unresolved struct {
	Value string `json:"value"`
	// URL is the delivery URL the app requests for it (cloud name as configured, or "<cloud>").
	URL    string `json:"url"`
	Asset  Asset  `json:"asset"`
	Reason string `json:"reason"`
	Fix    string `json:"fix"`
}

// ColumnReport is one FileField column under the app's storage.
type ColumnReport struct {
	Column       string `json:"column"`
	ResourceType string `json:"resource_type"`
	// Missing is true when the clinic database has no such column (nothing could be checked).
	Missing bool `json:"missing,omitempty"`
	Values  int  `json:"values"` // distinct non-empty values
	// InCloudinary counts values verified in Cloudinary under the asset the app requests; Pending those whose
	// local file a migration will upload there; Unresolved those it never finds as things stand.
	InCloudinary    int          `json:"in_cloudinary"`
	Pending         int          `json:"pending"`
	UnresolvedCount int          `json:"unresolved"`
	Unresolved      []Unresolved `json:"unresolved_values,omitempty"` // at most maxListedUnresolved
}

// Resolvability is the per-column report: does every FileField value resolve under the app's storage?
type Resolvability struct {
	CheckedAt  time.Time      `json:"checked_at"`
	Prefix     string         `json:"prefix"`
	Tag        string         `json:"tag"`
	Columns    []ColumnReport `json:"columns"`
	Unresolved int            `json:"unresolved"`
	// MissingColumns are configured columns the database lacks; while any is listed nothing is proven.
	MissingColumns []string `json:"missing_columns,omitempty"`
}

// OK is true when every configured column exists and every value resolves or will after the migration.
func (r *Resolvability) OK() bool { return r.Unresolved == 0 && len(r.MissingColumns) == 0 }

// Summary is one line for logs, errors and the CLI.
func (r *Resolvability) Summary() string {
	if r.OK() {
		return "every FileField value resolves under the app's Cloudinary storage (or will once uploaded)"
	}
	var parts []string
	if r.Unresolved > 0 {
		parts = append(parts, fmt.Sprintf("%d stored FileField value(s) would not resolve under the app's Cloudinary storage", r.Unresolved))
	}
	if len(r.MissingColumns) > 0 {
		parts = append(parts, fmt.Sprintf("column(s) %s do not exist in the clinic database (MEDIA_REFERENCE_COLUMNS)", strings.Join(r.MissingColumns, ", ")))
	}
	return strings.Join(parts, "; ")
}

// References gives the resource type each referenced path is served as, for Plan. A path referenced from
// columns of two storage types gets the type of the first column listing it; Resolve reports the other.
func References(fc *backup.FileColumnValues, n Naming, columns []string) map[string]string {
	refs := map[string]string{}
	for _, col := range columns {
		for _, v := range fc.Values[col] {
			if _, ok := refs[v]; !ok {
				refs[v] = n.ResourceType(col)
			}
		}
	}
	return refs
}

// ResolveInput is what Resolve reads.
type ResolveInput struct {
	Values  *backup.FileColumnValues
	Columns []string // in report order
	Naming  Naming
	Root    string // MEDIA_ROOT
	Cloud   string // cloud name for the URLs ("" gives "<cloud>")
	Q       *queries.Queries
}

// Resolve checks every stored value of every column: it resolves when the ledger proves the file verified
// in Cloudinary under exactly the asset the app requests, is pending when the local file exists (a migration
// uploads it there), and is unresolved when its name can never resolve under the column's storage, another
// value takes the same asset, or the file is neither local nor in Cloudinary under that name.
func Resolve(ctx context.Context, in ResolveInput) (*Resolvability, error) {
	cloud := in.Cloud
	if cloud == "" {
		cloud = "<cloud>"
	}
	rep := &Resolvability{CheckedAt: time.Now().UTC(), Prefix: in.Naming.Prefix, Tag: in.Naming.Tag,
		MissingColumns: slices.Clone(in.Values.Missing)}
	var all []string
	for _, col := range in.Columns {
		all = append(all, in.Values.Values[col]...)
	}
	ledger := map[string]queries.MediaAsset{}
	if len(all) > 0 && in.Q != nil {
		rows, err := in.Q.MediaAssetListByPaths(ctx, all)
		if err != nil {
			return nil, fmt.Errorf("read the media ledger: %w", err)
		}
		for _, r := range rows {
			ledger[r.RelPath] = r
		}
	}
	refs := References(in.Values, in.Naming, in.Columns)
	// Which values claim each asset (across columns): two values on one asset show the same file for both.
	claims := map[Asset][]string{}
	for _, col := range in.Columns {
		for _, v := range in.Values.Values[col] {
			a := in.Naming.AssetFor(v, in.Naming.ResourceType(col))
			if !slices.Contains(claims[a], v) {
				claims[a] = append(claims[a], v)
			}
		}
	}
	for _, col := range in.Columns {
		rt := in.Naming.ResourceType(col)
		cr := ColumnReport{Column: col, ResourceType: rt, Missing: slices.Contains(in.Values.Missing, col)}
		for _, v := range in.Values.Values[col] {
			cr.Values++
			a := in.Naming.AssetFor(v, rt)
			u, err := cloudinary.AppURL(cloud, rt, in.Naming.Name(v))
			if err != nil {
				u = ""
			}
			reason, fix := in.Naming.Problem(v, rt)
			if reason == "" && len(claims[a]) > 1 {
				others := slices.DeleteFunc(slices.Clone(claims[a]), func(s string) bool { return s == v })
				reason = fmt.Sprintf("%s also maps to %s %s, so the app would show one file for both", strings.Join(others, ", "), a.ResourceType, a.PublicID)
				fix = "rename one of the files and update its row"
			}
			if reason == "" && refs[v] != rt {
				reason = fmt.Sprintf("the same path is also stored in a %s field; one file cannot be both a %s and a %s asset", refs[v], refs[v], rt)
				fix = "copy the file under a second name and point one of the rows at it"
			}
			if reason == "" {
				row, inLedger := ledger[v]
				switch {
				case inLedger && (row.Status == "verified" || row.Status == "deleted") && row.PublicID == a.PublicID && row.ResourceType == rt:
					cr.InCloudinary++
					continue
				case fileExists(in.Root, v):
					cr.Pending++
					continue
				case inLedger && (row.Status == "verified" || row.Status == "deleted"):
					reason = fmt.Sprintf("the local file is gone and Cloudinary has it only as %s %s (an earlier naming)", row.ResourceType, row.PublicID)
					fix = fmt.Sprintf("rename that asset in Cloudinary to %s %s (Media Library or the Admin API rename)", a.ResourceType, a.PublicID)
				default:
					reason = "the file is neither in MEDIA_ROOT nor in Cloudinary"
					fix = "restore it from a media backup (pisbackup restore-media) or clear the row's field in the app"
				}
			}
			cr.UnresolvedCount++
			if len(cr.Unresolved) < maxListedUnresolved {
				cr.Unresolved = append(cr.Unresolved, Unresolved{Value: v, URL: u, Asset: a, Reason: reason, Fix: fix})
			}
		}
		rep.Unresolved += cr.UnresolvedCount
		rep.Columns = append(rep.Columns, cr)
	}
	return rep, nil
}

func fileExists(root, rel string) bool {
	// A ".." folder climbs out of MEDIA_ROOT; a name merely containing ".." ("lab..result.pdf") is local.
	if root == "" || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return false
	}
	st, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil && st.Mode().IsRegular()
}
