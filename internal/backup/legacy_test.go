package backup

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gz writes each part (a string repeated n times) as gzip members: a part is compressed once and its member
// repeated, which gzip readers (Go's, gunzip) concatenate. That is how a 510 KB file holding 512 MiB is made
// in milliseconds.
func gz(t testing.TB, parts ...any) []byte {
	t.Helper()
	var out bytes.Buffer
	for i := 0; i < len(parts); i += 2 {
		s, n := parts[i].(string), parts[i+1].(int)
		var m bytes.Buffer
		zw, err := gzip.NewWriterLevel(&m, gzip.BestCompression)
		require.NoError(t, err)
		_, err = io.WriteString(zw, s)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		for range n {
			out.Write(m.Bytes())
		}
	}
	return out.Bytes()
}

// LegacyBomb is the file: a small .json.gz holding one 512 MiB string.
func LegacyBomb(t testing.TB) []byte {
	return gz(t, `[{"model": "patients.note", "pk": 1, "fields": {"text": "`, 1, strings.Repeat("A", 1<<20), 512, `"}}]`, 1)
}

// Decompression bombs are refused quickly, in bounded memory, with a message naming the limit.
func TestLegacyExportLimits(t *testing.T) {
	t.Parallel()
	bomb := LegacyBomb(t)
	require.Less(t, len(bomb), 1<<20, "the bomb is small")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := ParseLegacyGzip(bytes.NewReader(bomb))
	runtime.ReadMemStats(&after)
	var le *LegacyLimitError
	require.True(t, errors.As(err, &le), "%v", err)
	require.EqualError(t, err, "one JSON value is larger than 32 MiB (the limit for one field of a legacy export)")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(200<<20), "memory stays bounded")

	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"whitespace bomb", gz(t, "[", 1, strings.Repeat(" ", 1<<20), 200, "]", 1), "more than 64 KiB of whitespace in a row"},
		{"ratio bomb", gz(t, "[", 1, `{"model": "a.b", "pk": 1, "fields": {"t": "`+strings.Repeat("z", 1<<20)+`"}}, `, 200, "{}]", 1),
			"inflates more than 200 times its gzip size"},
		{"one huge row", gz(t, `[{"model": "a.b", "pk": 1, "fields": {`, 1,
			`"f": "`+strings.Repeat("x", 20<<20)+`", `, 4, `"g": 1}}]`, 1), "one object is larger than 64 MiB"},
		{"huge number", gz(t, `[{"model": "a.b", "pk": `, 1, strings.Repeat("1", 1<<20), 40, `, "fields": {}}]`, 1), "one JSON value is larger than 32 MiB"},
		{"deep nesting", gz(t, `[{"model": "a.b", "pk": 1, "fields": {"x": `, 1, strings.Repeat("[", 100), 1, strings.Repeat("]", 100), 1, `}}]`, 1), "nested deeper than 64"},
	} {
		_, err := ParseLegacyGzip(bytes.NewReader(c.file))
		require.True(t, errors.As(err, &le), "%s: %v", c.name, err)
		require.ErrorContains(t, err, c.want, c.name)
	}

	// Real exports, escapes included, still parse.
	ok := gz(t, `[{"model": "auth.user", "pk": 1, "fields": {"username": "a\"b\\", "bio": "`+strings.Repeat("é", 1000)+`"}},`, 1,
		`{"model": "patients.visit", "pk": 2, "fields": {"n": -1.5e3, "ok": true, "x": null, "l": [1, {"y": "]"}]}}`, 1, "]\n", 1)
	tables, err := ParseLegacyGzip(bytes.NewReader(ok))
	require.NoError(t, err)
	require.Equal(t, []TableCount{{Name: "auth.user", Rows: 1}, {Name: "patients.visit", Rows: 1}}, tables)
	// Many ordinary rows are fine.
	_, err = ParseLegacyGzip(bytes.NewReader(gz(t, "[", 1, `{"model": "a.b", "pk": 1, "fields": {"t": "`+strings.Repeat("z", 100)+`"}},`, 10000, `{"model": "a.b", "pk": 1, "fields": {}}]`, 1)))
	require.NoError(t, err)
}
