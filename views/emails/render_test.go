package emails

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRenderCarriesEverythingInBothBodies(t *testing.T) {
	t.Parallel()
	about := Issue{AlertID: 1, Severity: "critical", Title: `Backup failed: schedule "A&B <nightly>"`,
		Message: "Backup #7 failed: disk full", Recommendation: "Free space", Since: "2026-11-25 10:00 UTC+08:00", Occurrences: 2}
	vm := AlertVM{Kind: KindOpened, Headline: "Alert: " + about.Title, Status: "critical", About: &about,
		Open:         []Issue{{AlertID: 2, Severity: "warning", Title: "Backup storage is 93% full"}},
		Stats:        Stats{Good24h: 3, Total24h: 4, Good7d: 20, Total7d: 21, LastGoodDatabase: "5 h"},
		DashboardURL: "https://backups.clinic.example/", AlertsURL: "https://backups.clinic.example/alerts", When: "now"}
	text, html, err := Render(context.Background(), vm)
	require.NoError(t, err)

	for _, want := range []string{"Overall status: critical", "Backup #7 failed: disk full", "Recommended: Free space",
		"seen 2 times", "Other open issues (1)", "[WARNING] Backup storage is 93% full", "3 of 4 succeeded (75%)",
		"20 of 21 succeeded (95%)", "Newest good database backup: 5 h ago", "Dashboard: https://backups.clinic.example/"} {
		require.Contains(t, text, want)
	}
	require.Contains(t, text, `"A&B <nightly>"`, "plain text is not HTML-escaped")
	require.Contains(t, html, `A&amp;B &lt;nightly&gt;`, "HTML escapes what it shows")
	require.NotContains(t, html, "<nightly>")
	require.Contains(t, html, `style="color:#b00020;"`)
	require.NotContains(t, html, "ZgotmplZ")
	require.Contains(t, html, `href="https://backups.clinic.example/alerts"`)
	require.True(t, strings.Contains(html, "3 of 4 succeeded (75%)"))
}
