package backup

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// FormatLegacy is the old Python system's `dumpdata` export (gzip of a JSON array of {"model","pk","fields"}),
// kept sealed like everything else because it holds password hashes.
const FormatLegacy = "django-dumpdata-json.gz+zstd+age"

// ParseLegacy reads a whole Django dumpdata JSON array and counts objects per model. Anything else — a
// truncated file, trailing data, objects without a model — is an error, so a half file is never accepted.
func ParseLegacy(r io.Reader) ([]TableCount, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, legacyErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("not a Django dumpdata export: expected a JSON array")
	}
	counts := map[string]int64{}
	for dec.More() {
		var obj struct {
			Model  string          `json:"model"`
			Fields json.RawMessage `json:"fields"`
		}
		if err := dec.Decode(&obj); err != nil {
			return nil, legacyErr(err)
		}
		if obj.Model == "" || len(obj.Fields) == 0 {
			return nil, errors.New(`not a Django dumpdata export: an object lacks "model" or "fields"`)
		}
		counts[obj.Model]++
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, legacyErr(err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("not a Django dumpdata export: data after the JSON array")
	} else if err != io.EOF {
		return nil, legacyErr(err)
	}
	out := make([]TableCount, 0, len(counts))
	for m, n := range counts {
		out = append(out, TableCount{Name: m, Rows: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ParseLegacyGzip is ParseLegacy behind gzip, reading to the gzip trailer (whose CRC proves the file whole).
func ParseLegacyGzip(r io.Reader) ([]TableCount, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip file: %w", err)
	}
	tables, err := ParseLegacy(zr)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // trailer and checksum
		return nil, legacyErr(err)
	}
	return tables, zr.Close()
}

// VerifyLegacy is the "archive" level for legacy exports: decrypt, gunzip and parse every object.
func VerifyLegacy(ctx context.Context, a Artifact) ([]TableCount, error) {
	p, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	tables, err := ParseLegacyGzip(p)
	var ie *IntegrityError
	if errors.As(err, &ie) {
		return nil, ie
	}
	return tables, err
}

func legacyErr(err error) error {
	var ie *IntegrityError
	if errors.As(err, &ie) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the file is truncated: it ends before the JSON array (or gzip stream) is complete")
	}
	return fmt.Errorf("not a valid Django dumpdata export: %v", err)
}
