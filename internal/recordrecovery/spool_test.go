package recordrecovery

import (
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The rows the data pass keeps while it streams (a spooled table holds every row of it: patients' data in
// plain text) are never visible as files, so nothing is left in the temporary directory when the process is
// killed (kill -9, OOM) before its deferred clean-up runs; the rows can still be read back and loaded.
func TestSpoolFilesLeaveNothingBehind(t *testing.T) {
	s := &Schema{Tables: map[string]*Table{"public.p": {Name: "public.p", Schema: "public", Rel: "p", PK: []string{"id"},
		Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "note", Type: "text"}}}}}
	p := newDataPlan(s, "public.p", []string{"public.p"}, false, nil, nil)
	dir := t.TempDir()
	f := newDataFilter(p, dir)
	defer f.close()
	require.NoError(t, f.Begin(copyHeader{Schema: "public", Table: "p", Columns: []string{"id", "note"}}))
	require.NoError(t, f.Row([]byte("1\tsecret diagnosis")))
	require.NoError(t, f.End())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no spool file can be found (or outlive the process) in the temporary directory")
	src, err := f.byName["public.p"].candidates()
	require.NoError(t, err)
	b, err := io.ReadAll(src)
	require.NoError(t, err)
	require.Equal(t, "1\tsecret diagnosis\n", string(b))
}
