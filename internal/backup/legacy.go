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

// Formats of the old Python system's exports (galenelijah/USC-PIS backend/utils), kept sealed like everything
// else because they hold password hashes. Both are a JSON array of {"model", "pk", "fields"} objects, Django's
// fixture layout, which `manage.py loaddata` reads:
//   - FormatLegacy: database_backup_*.json.gz, stored as uploaded (the gzip inside zstd and age);
//   - FormatLegacyJSON: database_backup_*.json, the uncompressed export that execute_backup.py
//     (serializers "python" + json.dump) and backup_engine.py (compress=False) wrote, and the database part of
//     a full_backup_*.zip (see legacy_zip.go).
const (
	FormatLegacy     = "django-dumpdata-json.gz+zstd+age"
	FormatLegacyJSON = "django-dumpdata-json+zstd+age"
)

// IsLegacy reports whether a backup's format is one of the old system's exports: verified by parsing the JSON,
// restored by hand with `manage.py loaddata`, never drilled or restored with pg_restore.
func IsLegacy(format string) bool { return format == FormatLegacy || format == FormatLegacyJSON }

// Limits on a legacy export's inflated JSON, so a small gzip file cannot make pisbackup inflate or hold
// gigabytes (a 510 KB .json.gz can hold one 512 MiB string). They apply wherever one is read: at upload and at
// every archive verification.
const (
	LegacyMaxInflated = 8 << 30  // the whole JSON array, in bytes
	LegacyMaxValue    = 32 << 20 // one string or number, in bytes
	LegacyMaxObject   = 64 << 20 // one {"model", "pk", "fields"} object, in bytes
	legacyMaxDepth    = 64       // nesting of arrays and objects
	// legacyMaxSpace bounds a run of whitespace between tokens: encoding/json's Decoder rescans a whole run on
	// every buffer refill (quadratic time, and the run stays in memory), and dumpdata's indentation is short.
	legacyMaxSpace = 64 << 10
	// LegacyMaxRatio bounds inflated/compressed bytes once past 128 MiB inflated: JSON gzips 5-30:1, a
	// decompression bomb 1000:1.
	LegacyMaxRatio = 200
)

// LegacyLimitError is a legacy export refused for exceeding one of the limits above.
type LegacyLimitError struct{ Msg string }

func (e *LegacyLimitError) Error() string { return e.Msg }

// ParseLegacy reads a whole Django dumpdata JSON array and counts objects per model. Anything else — a
// truncated file, trailing data, objects without a model — is an error, so a half file is never accepted.
// It streams: memory stays within LegacyMaxObject whatever the input, and input past the Legacy* limits is
// refused with a *LegacyLimitError naming the limit.
func ParseLegacy(r io.Reader) ([]TableCount, error) { return parseLegacy(&legacyLimiter{r: r}) }

func parseLegacy(lim *legacyLimiter) ([]TableCount, error) {
	dec := json.NewDecoder(lim)
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
	cr := &progressReader{r: r} // counts the gzip bytes for LegacyMaxRatio
	zr, err := gzip.NewReader(cr)
	if err != nil {
		return nil, fmt.Errorf("not a gzip file: %w", err)
	}
	tables, err := parseLegacy(&legacyLimiter{r: zr, compressed: &cr.n})
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // trailer and checksum
		return nil, legacyErr(err)
	}
	return tables, zr.Close()
}

// VerifyLegacy is the "archive" level for legacy exports of the given format: decrypt, decompress (gunzip too
// for FormatLegacy) and parse every object under the same limits as at upload.
func VerifyLegacy(ctx context.Context, a Artifact, format string) ([]TableCount, error) {
	p, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	parse := ParseLegacyGzip
	if format == FormatLegacyJSON {
		parse = ParseLegacy
	}
	tables, err := parse(p)
	var ie *IntegrityError
	if errors.As(err, &ie) {
		return nil, ie
	}
	return tables, err
}

func legacyErr(err error) error {
	var ie *IntegrityError
	var le *LegacyLimitError
	if errors.As(err, &ie) || errors.As(err, &le) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the file is truncated: it ends before the JSON array (or gzip stream) is complete")
	}
	return fmt.Errorf("not a valid Django dumpdata export: %v", err)
}

// legacyLimiter sits between gzip and the JSON decoder and follows the JSON text just far enough (strings and
// their escapes, nesting) to enforce the limits before the decoder buffers anything larger: the decoder sees
// an error instead of the byte that would cross a limit.
type legacyLimiter struct {
	r          io.Reader
	compressed *int64 // bytes of gzip read so far (nil: not compressed)
	total      int64
	depth      int
	inString   bool
	escaped    bool
	value      int64 // bytes of the current string or bare literal
	space      int64 // bytes of the current run of whitespace
	object     int64 // bytes of the current top-level array element
}

func (l *legacyLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if lerr := l.step(p[i]); lerr != nil {
			return i, lerr
		}
	}
	return n, err
}

func (l *legacyLimiter) step(c byte) error {
	l.total++
	if l.total > LegacyMaxInflated {
		return &LegacyLimitError{fmt.Sprintf("the export inflates to more than %d GiB of JSON (the limit for legacy exports)", LegacyMaxInflated>>30)}
	}
	if l.compressed != nil && l.total > 128<<20 && l.total > LegacyMaxRatio*max(*l.compressed, 1) {
		return &LegacyLimitError{fmt.Sprintf("the export inflates more than %d times its gzip size: a decompression bomb, not a database export", LegacyMaxRatio)}
	}
	if l.depth >= 2 {
		l.object++
		if l.object > LegacyMaxObject {
			return &LegacyLimitError{fmt.Sprintf("one object is larger than %d MiB of JSON (the limit for one row of a legacy export)", LegacyMaxObject>>20)}
		}
	}
	switch {
	case l.inString:
		l.value++
		switch {
		case l.escaped:
			l.escaped = false
		case c == '\\':
			l.escaped = true
		case c == '"':
			l.inString, l.value = false, 0
		}
	case c == '"':
		l.inString, l.value = true, 1
	case c == '[' || c == '{':
		l.depth++
		if l.depth == 2 {
			l.object = 1
		}
		if l.depth > legacyMaxDepth {
			return &LegacyLimitError{fmt.Sprintf("JSON nested deeper than %d levels", legacyMaxDepth)}
		}
		l.value = 0
	case c == ']' || c == '}':
		l.depth--
		l.value = 0
	case c == ' ' || c == '\n' || c == '\r' || c == '\t':
		l.value = 0
		if l.space++; l.space > legacyMaxSpace {
			return &LegacyLimitError{fmt.Sprintf("more than %d KiB of whitespace in a row: not a dumpdata export", legacyMaxSpace>>10)}
		}
		return nil
	case c == ',' || c == ':':
		l.value = 0
	default: // numbers, true, false, null
		l.value++
	}
	l.space = 0
	if l.value > LegacyMaxValue {
		return &LegacyLimitError{fmt.Sprintf("one JSON value is larger than %d MiB (the limit for one field of a legacy export)", LegacyMaxValue>>20)}
	}
	return nil
}
