package backup

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

type readSizes struct {
	r   io.Reader
	max int
}

func (s *readSizes) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.max = max(s.max, n)
	return n, err
}

// pg_dump writes 4 KiB at a time; the coalescing reader must hand on every byte in order, in larger pieces.
func TestCoalescingReaderKeepsEveryByteAndReadsLarger(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	want := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	go func() {
		for p := want; len(p) > 0; p = p[min(len(p), 4096):] {
			if _, err := w.Write(p[:min(len(p), 4096)]); err != nil {
				break
			}
		}
		w.Close()
	}()
	sizes := &readSizes{r: newCoalescingReader(r)}
	var got bytes.Buffer
	_, err = io.CopyBuffer(struct{ io.Writer }{&got}, sizes, make([]byte, 1<<20)) // as runDump reads
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got.Bytes()), "bytes lost or reordered")
	require.Greater(t, sizes.max, 4096, "reads were never coalesced beyond the writer's 4 KiB pieces")
}
