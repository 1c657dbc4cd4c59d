package mediamigration

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/internal/spreadsheet"
	"github.com/uscpis/pisbackup/queries"
)

type fileSum struct {
	size        int64
	sha256, md5 string
	mtime       time.Time
}

// hashFile reads a file once for both hashes: SHA-256 for the ledger's identity, MD5 because that is what
// Cloudinary's etag is.
func hashFile(p string) (fileSum, error) {
	f, err := os.Open(p)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileSum{}, err
	}
	s, m := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(s, m), f)
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{size: n, sha256: hex.EncodeToString(s.Sum(nil)), md5: hex.EncodeToString(m.Sum(nil)),
		mtime: st.ModTime()}, nil
}

// Entry is one line of the mapping the clinic's Django app uses to rewrite stored paths to Cloudinary URLs.
type Entry struct {
	Path         string `json:"path"`
	PublicID     string `json:"public_id"`
	SecureURL    string `json:"secure_url"`
	ResourceType string `json:"resource_type"`
	Bytes        int64  `json:"bytes"`
	LocalDeleted bool   `json:"local_deleted"`
}

// Mapping lists every file the ledger proves is in Cloudinary.
func Mapping(ctx context.Context, q *queries.Queries) ([]Entry, error) {
	rows, err := q.MediaAssetListMapped(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(rows))
	for _, r := range rows {
		out = append(out, Entry{Path: r.RelPath, PublicID: r.PublicID, SecureURL: r.SecureUrl,
			ResourceType: r.ResourceType, Bytes: r.Bytes, LocalDeleted: r.Status == "deleted"})
	}
	return out, nil
}

// WriteJSON writes the mapping as a JSON array.
func WriteJSON(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(entries)
}

// WriteCSV writes the mapping with a header row, every cell spreadsheet-safe (spreadsheet.Cell): media names
// come from whoever uploaded a file, so one named "=HYPERLINK(…).png" gets a leading apostrophe here. The JSON
// mapping holds the names exactly.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"path", "public_id", "secure_url", "resource_type", "bytes", "local_deleted"})
	for _, e := range entries {
		_ = cw.Write(spreadsheet.Row([]string{e.Path, e.PublicID, e.SecureURL, e.ResourceType, strconv.FormatInt(e.Bytes, 10),
			strconv.FormatBool(e.LocalDeleted)}))
	}
	cw.Flush()
	return cw.Error()
}

// WriteFiles writes the mapping to base+".json" and base+".csv" (base may end in either; the extension is
// replaced), each through a temporary file renamed into place, and returns the two paths.
func WriteFiles(entries []Entry, base string) (string, string, error) {
	if ext := filepath.Ext(base); ext == ".json" || ext == ".csv" {
		base = base[:len(base)-len(ext)]
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", "", err
	}
	jsonPath, csvPath := base+".json", base+".csv"
	if err := writeAtomic(jsonPath, func(w io.Writer) error { return WriteJSON(w, entries) }); err != nil {
		return "", "", err
	}
	if err := writeAtomic(csvPath, func(w io.Writer) error { return WriteCSV(w, entries) }); err != nil {
		return "", "", err
	}
	return jsonPath, csvPath, nil
}

func writeAtomic(p string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".mapping-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
