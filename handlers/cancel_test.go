package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// Operators cancel a running backup from the API and from its page: it stops within seconds, the row says who
// cancelled, the cancel is audited; viewers may not; a finished backup answers 409.
func TestCancelBackupFromAPIAndPage(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, true)
	e.d.Cfg.PGClients.BinDir = testdb.SlowPGDumpDir(t, "0.05")
	ctx := context.Background()
	start := func() queries.Backup {
		var b queries.Backup
		require.Eventually(t, func() bool {
			r, body := e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"database"}`)
			if r.StatusCode != http.StatusAccepted {
				return false
			}
			require.NoError(t, jsonUnmarshal(body, &b))
			return true
		}, 30*time.Second, 100*time.Millisecond)
		require.Eventually(t, func() bool {
			got, err := e.d.Q.BackupGet(ctx, b.ID)
			return err == nil && got.Status == "running" && got.ProgressBytes > 0
		}, 30*time.Second, 20*time.Millisecond)
		return b
	}
	waitEnd := func(id int64) queries.Backup {
		var got queries.Backup
		require.Eventually(t, func() bool {
			got, _ = e.d.Q.BackupGet(ctx, id)
			return got.Status != "queued" && got.Status != "running"
		}, 10*time.Second, 50*time.Millisecond, "the backup did not stop within seconds")
		return got
	}

	b := start()
	r, body := e.req(t, nil, "POST", "/api/v1/backups/"+idText(b.ID)+"/cancel", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusForbidden, r.StatusCode, body)
	page, _ := e.login(t, "viewer@clinic.test", testPassword)
	_, html := e.req(t, page, "GET", "/backups/"+idText(b.ID)+"/summary", "", "")
	require.NotContains(t, html, `data-testid="cancel"`, "viewers get no Cancel button")
	op, _ := e.login(t, "operator@clinic.test", testPassword)
	_, html = e.req(t, op, "GET", "/backups/"+idText(b.ID)+"/summary", "", "")
	require.Contains(t, html, `data-testid="cancel"`)
	require.Contains(t, html, " read (")
	require.Contains(t, html, "elapsed")

	r, body = e.req(t, nil, "POST", "/api/v1/backups/"+idText(b.ID)+"/cancel", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusAccepted, r.StatusCode, body)
	require.Contains(t, body, `"status":"cancelling"`)
	got := waitEnd(b.ID)
	require.Equal(t, "cancelled", got.Status)
	require.Equal(t, "cancelled by operator@clinic.test (token operator script)", got.Error)
	r, body = e.req(t, nil, "POST", "/api/v1/backups/"+idText(b.ID)+"/cancel", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusConflict, r.StatusCode, body)

	b = start()
	r, _ = e.req(t, op, "POST", "/backups/"+idText(b.ID)+"/cancel", "", "")
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	got = waitEnd(b.ID)
	require.Equal(t, "cancelled", got.Status)
	require.Equal(t, "cancelled by operator@clinic.test", got.Error)

	events := e.audit(t, jobs.WorkBackup+".cancel")
	require.Len(t, events, 2)
	for _, ev := range events {
		require.True(t, strings.HasPrefix(ev.Actor, "operator@clinic.test"), ev.Actor)
	}
}
