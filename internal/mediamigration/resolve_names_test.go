package mediamigration_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/mediamigration"
)

// A file whose name merely contains ".." (Django keeps "lab..result.pdf" as typed) is in MEDIA_ROOT and will
// resolve once migrated; only a value that climbs out of MEDIA_ROOT ("../outside.pdf") is never found there.
func TestResolveFindsLocalNamesWithDoubleDots(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "patient_documents"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "patient_documents", "lab..result.pdf"), []byte("%PDF-1.4"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(root), "outside.pdf"), []byte("%PDF-1.4"), 0o644))
	t.Cleanup(func() { _ = os.Remove(filepath.Join(filepath.Dir(root), "outside.pdf")) })
	col := "documents.file"
	rep, err := mediamigration.Resolve(context.Background(), mediamigration.ResolveInput{
		Values:  &backup.FileColumnValues{Values: map[string][]string{col: {"patient_documents/lab..result.pdf", "../outside.pdf"}}},
		Columns: []string{col}, Root: root,
	})
	require.NoError(t, err)
	require.Len(t, rep.Columns, 1)
	require.Equal(t, 1, rep.Columns[0].Pending, "%+v", rep.Columns[0])
	require.Equal(t, 1, rep.Columns[0].UnresolvedCount, "%+v", rep.Columns[0])
	require.Equal(t, "../outside.pdf", rep.Columns[0].Unresolved[0].Value)
}
