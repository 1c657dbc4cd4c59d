package backup_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/storage"
)

// damagedCopy stores a copy of a's object with one byte flipped at the given fraction of its length.
func damagedCopy(t *testing.T, a backup.Artifact, at float64) backup.Artifact {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	r, err := a.Store.Open(ctx, a.Key)
	require.NoError(t, err)
	buf, err := io.ReadAll(r)
	require.NoError(t, err)
	r.Close()
	buf[int(float64(len(buf))*at)] ^= 0xff
	w, err := st.Create(ctx, a.Key)
	require.NoError(t, err)
	_, err = w.Write(buf)
	require.NoError(t, err)
	require.NoError(t, w.Commit())
	a.Store = st
	return a
}

// The partial reads record recovery uses stop where pg_restore stops: damage past that point is not seen
// (drills, which drain, see it); damage in what they read still fails them as an integrity error.
func TestPartialReadsStopWherePGRestoreStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := drillFixture(t)
	full, err := backup.ListArchive(ctx, o.Artifact, o.PGRestore)
	require.NoError(t, err)
	head, err := backup.ListArchiveHead(ctx, o.Artifact, o.PGRestore)
	require.NoError(t, err)
	require.Equal(t, full.Text, head.Text)
	require.Less(t, head.PlainBytes, full.PlainBytes/2, "the table of contents is at the start")

	var script strings.Builder
	n, err := backup.ScriptSome(ctx, o.Artifact, o.PGRestore, []string{"--data-only"}, &script)
	require.NoError(t, err)
	require.Contains(t, script.String(), "COPY public.patients_patient (")
	require.LessOrEqual(t, n, full.PlainBytes)

	tail := damagedCopy(t, o.Artifact, 0.98)
	_, err = backup.ListArchive(ctx, tail, o.PGRestore)
	var ie *backup.IntegrityError
	require.ErrorAs(t, err, &ie, "ListArchive drains: it sees the damage")
	_, err = backup.ListArchiveHead(ctx, tail, o.PGRestore)
	require.NoError(t, err, "ListArchiveHead stops after the table of contents")

	mid := damagedCopy(t, o.Artifact, 0.5)
	_, err = backup.ScriptSome(ctx, mid, o.PGRestore, []string{"--data-only"}, io.Discard)
	require.ErrorAs(t, err, &ie, "damage in what is read fails")

	// A consumer that gives up stops pg_restore and its error is returned.
	_, err = backup.ScriptSome(ctx, o.Artifact, o.PGRestore, []string{"--data-only"}, failingWriter{})
	require.ErrorIs(t, err, io.ErrShortWrite)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }
