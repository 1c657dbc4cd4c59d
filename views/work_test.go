package views

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A drill 40 s in with 1 of 4 GiB restored reads "1.0 GiB of 4.0 GiB restored (25%) · 40s elapsed · about 2m left";
// without a pace or a total there is no estimate.
func TestWorkLine(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 40, 0, time.UTC)
	started := now.Add(-40 * time.Second)
	w := WorkVM{Verb: "restored", Done: 1 << 30, Total: 4 << 30, Started: &started, Now: now}
	left, ok := w.Left()
	require.True(t, ok)
	require.Equal(t, 120*time.Second, left)
	require.Equal(t, 25, w.Pct())
	require.Contains(t, w.Line(), "1.0 GiB of 4.0 GiB restored (25%)")
	require.Contains(t, w.Line(), "elapsed")
	require.Contains(t, w.Line(), "about ")

	w.Done = 0
	_, ok = w.Left()
	require.False(t, ok, "no pace yet")
	w.Done, w.Total = 5, 0
	require.NotContains(t, w.Line(), "about", "no total, no estimate")
	w.Started = nil
	require.Contains(t, w.Line(), "not started yet")
}
