package views

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// A failed drill's page names each differing schema object, materialized view or large object, marks the
// ones that fail it, and shows why the others do not (the restore problem, or a stale view's refresh).
func TestBackupActivityShowsObjectDifferences(t *testing.T) {
	details, err := json.Marshal(backup.DrillResult{Objects: &backup.ObjectsCheck{SchemaObjects: 13, MaterializedViews: 1, LargeObjects: 3,
		Differences: []backup.ObjectDifference{
			{What: "function public.rate_of(text) missing after restore", Fails: true},
			{What: "policy p on public.visits missing after restore", ExplainedBy: "object not created: POLICY public.visits p: …"},
		}}})
	require.NoError(t, err)
	vm := ActivityVM{Chrome: Chrome{Role: auth.Viewer, Now: time.Now()}, B: queries.Backup{ID: 7, Kind: "database"},
		Verifications: []queries.Verification{{ID: 1, BackupID: 7, Level: "drill", Status: "failed", Details: details}}}
	var b strings.Builder
	require.NoError(t, BackupActivity(vm).Render(context.Background(), &b))
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	require.NoError(t, err)
	sec := doc.Find("[data-testid=drill-objects]")
	require.Equal(t, 1, sec.Length())
	_, open := sec.Attr("open")
	require.True(t, open, "a failing difference opens the section")
	require.Contains(t, strings.Join(strings.Fields(sec.Find("summary").Text()), " "), "(13, 1, 3): 2 differ")
	items := sec.Find("[data-testid=drill-object-difference]")
	require.Equal(t, 2, items.Length())
	require.Contains(t, items.Eq(0).Text(), "function public.rate_of(text) missing after restore")
	require.Equal(t, 1, items.Eq(0).Find(".st-failed").Length())
	require.Equal(t, "explained", items.Eq(1).Find(".badge").Text())
	require.Contains(t, items.Eq(1).Find("[data-testid=drill-object-explained]").Text(), "object not created: POLICY public.visits p")
	require.Equal(t, 0, items.Eq(1).Find(".st-failed").Length())
}
