package verdict

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCompute(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return now.Add(-time.Duration(n) * time.Hour) }
	cases := []struct {
		name  string
		in    Inputs
		level Level
		text  string
	}{
		{"never backed up", Inputs{}, Red, "no backup of the clinic database has been taken yet"},
		{"backed up, never drilled", Inputs{LastBackupAt: h(2), LastBackupStatus: "succeeded", LastGoodAt: h(2), StaleAfter: 26 * time.Hour}, Amber, "Unproven: the last backup (2 h ago) succeeded"},
		{"drilled and fresh", Inputs{LastBackupAt: h(3), LastBackupStatus: "succeeded", LastGoodAt: h(3), ProvenAt: h(3), ProvenRTO: 41 * time.Second, StaleAfter: 26 * time.Hour}, Green, "Recoverable: last proven restore point 3 h ago (drill took 41 s)."},
		{"stale", Inputs{LastBackupAt: h(72), LastBackupStatus: "succeeded", LastGoodAt: h(72), ProvenAt: h(72), ProvenRTO: time.Minute, StaleAfter: 26 * time.Hour}, Amber, "Stale: the newest good backup is 3 d old, past its 26 h deadline."},
		{"stale and never proven", Inputs{LastBackupAt: h(72), LastBackupStatus: "succeeded", LastGoodAt: h(72), StaleAfter: 26 * time.Hour}, Red, "No backup has been proven"},
		{"last backup failed", Inputs{LastBackupAt: h(1), LastBackupStatus: "failed", LastGoodAt: h(25), ProvenAt: h(25), ProvenRTO: 30 * time.Second}, Amber, "At risk: the last database backup (1 h ago) failed. Last proven restore point 25 h ago"},
		{"failed and nothing proven", Inputs{LastBackupAt: h(1), LastBackupStatus: "failed"}, Red, "At risk: the last database backup (1 h ago) failed."},
		{"fresh but alerts open", Inputs{LastBackupAt: h(1), LastBackupStatus: "succeeded", LastGoodAt: h(1), ProvenAt: h(1), ProvenRTO: time.Second, OpenAlerts: 2}, Amber, "2 open alerts."},
	}
	for _, c := range cases {
		c.in.Now = now
		v := Compute(c.in)
		require.Equal(t, c.level, v.Level, c.name)
		require.Contains(t, v.Sentence, c.text, c.name)
	}
}
