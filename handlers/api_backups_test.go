package handlers

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// TestAPIBackupsByRole is the curl script: viewer may not start a backup, operator may (and it runs),
// operator may not download, admin may; admin deletes it and the row stays. Each step is audited with its actor.
func TestAPIBackupsByRole(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, true)
	e.workQueue(t, jobs.QueueVerify) // a backup is followed by its checksum verification
	ctx := context.Background()

	resp, body := e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Viewer], `{"kind":"database"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	requireJSONError(t, body, "forbidden", "viewer POST")

	resp, body = e.req(t, nil, "POST", "/api/v1/backups", e.tokens[auth.Operator], `{"kind":"database"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var b queries.Backup
	require.NoError(t, jsonUnmarshal(body, &b))
	require.Equal(t, "/api/v1/backups/"+idText(b.ID), resp.Header.Get("Location"))
	require.Equal(t, "api", b.Trigger)
	require.Equal(t, e.users[auth.Operator].ID, *b.CreatedBy)

	require.Eventually(t, func() bool {
		_, body := e.req(t, nil, "GET", "/api/v1/backups/"+idText(b.ID), e.tokens[auth.Viewer], "")
		require.NoError(t, jsonUnmarshal(body, &b))
		return b.Status != "queued" && b.Status != "running"
	}, 90*time.Second, 200*time.Millisecond)
	require.Equal(t, "succeeded", b.Status, b.Error)

	resp, _ = e.req(t, nil, "GET", "/api/v1/backups/"+idText(b.ID)+"/download", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp, artifact := e.req(t, nil, "GET", "/api/v1/backups/"+idText(b.ID)+"/download", e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	rc, err := e.d.Store.Open(ctx, b.StorageKey)
	require.NoError(t, err)
	stored, err := io.ReadAll(rc)
	require.NoError(t, err)
	rc.Close()
	require.Equal(t, stored, []byte(artifact), "the download is the stored (encrypted) artifact, byte for byte")
	require.Equal(t, "age-encryption.org/v1", artifact[:len("age-encryption.org/v1")])

	// Deleting waits for the automatic checksum verification: a backup in use is never deleted. The
	// verification is queued just after the backup row turns final, so wait for it to exist, then to end.
	require.Eventually(t, func() bool {
		vs, err := e.d.Q.VerificationListByBackup(ctx, b.ID)
		require.NoError(t, err)
		if len(vs) == 0 {
			return false
		}
		for _, v := range vs {
			if v.Status == "queued" || v.Status == "running" {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond)
	resp, body = e.req(t, nil, "DELETE", "/api/v1/backups/"+idText(b.ID), e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body = e.req(t, nil, "DELETE", "/api/v1/backups/"+idText(b.ID), e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	_, err = e.d.Store.Stat(ctx, b.StorageKey)
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = e.d.Store.Stat(ctx, storage.ManifestKey(b.StorageKey))
	require.ErrorIs(t, err, storage.ErrNotFound)
	row, err := e.d.Q.BackupGet(ctx, b.ID)
	require.NoError(t, err, "the row is kept as history")
	require.NotNil(t, row.PrunedAt)
	resp, _ = e.req(t, nil, "GET", "/api/v1/backups/"+idText(b.ID)+"/download", e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	for action, actor := range map[string]string{
		"backup.create":   "operator@clinic.test (token operator script)",
		"backup.download": "admin@clinic.test (token admin script)",
		"backup.delete":   "admin@clinic.test (token admin script)",
	} {
		ev := e.audit(t, action)
		require.Len(t, ev, 1, action)
		require.Equal(t, actor, ev[0].Actor, action)
		require.Equal(t, "backup:"+idText(b.ID), ev[0].Target)
		require.NotNil(t, ev[0].ActorTokenID)
	}
	denied := e.audit(t, "access.denied")
	actors := []string{}
	for _, d := range denied {
		actors = append(actors, d.Actor+" "+d.Target)
		require.Equal(t, "failed", d.Outcome, "a refused request is on record as failed, not done")
	}
	require.ElementsMatch(t, []string{
		"viewer@clinic.test (token viewer script) POST /api/v1/backups",
		"operator@clinic.test (token operator script) GET /api/v1/backups/" + idText(b.ID) + "/download",
		"operator@clinic.test (token operator script) DELETE /api/v1/backups/" + idText(b.ID),
	}, actors)
}

func TestAPIValidation(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	op := e.tokens[auth.Operator]
	cases := []struct {
		method, path, body string
		status             int
		code, field        string
	}{
		{"POST", "/api/v1/backups", `{"kind":`, 400, "bad_request", ""},
		{"POST", "/api/v1/backups", `{"kind":"database","extra":1}`, 400, "bad_request", ""},
		{"POST", "/api/v1/backups", `{"kind":7}`, 400, "bad_request", "kind"},
		{"POST", "/api/v1/backups", `{"kind":"everything"}`, 422, "invalid", "kind"},
		{"POST", "/api/v1/backups", `{}`, 422, "invalid", "kind"},
		{"GET", "/api/v1/backups?since=yesterday", "", 422, "invalid", "since"},
		{"GET", "/api/v1/backups?until=2026-13-01T00:00:00Z", "", 422, "invalid", "until"},
		{"GET", "/api/v1/backups?kind=tape", "", 422, "invalid", "kind"},
		{"GET", "/api/v1/backups?status=done", "", 422, "invalid", "status"},
		{"GET", "/api/v1/backups?cursor=zzz", "", 422, "invalid", "cursor"},
		{"GET", "/api/v1/backups?limit=0", "", 422, "invalid", "limit"},
		{"GET", "/api/v1/backups/999", "", 404, "not_found", ""},
		{"GET", "/api/v1/backups/abc", "", 404, "not_found", ""},
		{"GET", "/api/v1/nothing-here", "", 404, "", ""},
	}
	queued, err := e.d.Q.BackupInsert(context.Background(), queries.BackupInsertParams{Kind: "media", Trigger: "cli", Encrypted: true})
	require.NoError(t, err)
	cases = append(cases, struct {
		method, path, body string
		status             int
		code, field        string
	}{"DELETE", "/api/v1/backups/" + idText(queued.ID), "", 409, "conflict", ""})
	for _, c := range cases {
		tok := op
		if c.method == "DELETE" {
			tok = e.tokens[auth.Admin]
		}
		resp, body := e.req(t, nil, c.method, c.path, tok, c.body)
		require.Equal(t, c.status, resp.StatusCode, "%s %s %s: %s", c.method, c.path, c.body, body)
		if c.code == "" {
			continue
		}
		var v struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		require.NoError(t, jsonUnmarshal(body, &v), body)
		require.Equal(t, c.code, v.Error.Code, c.path)
		require.Equal(t, c.field, v.Error.Field, c.path)
		require.NotEmpty(t, v.Error.Message)
	}
}

// TestAPIBackupListFiltersAndCursor pages through rows inserted directly, newest first.
func TestAPIBackupListFiltersAndCursor(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	for i := range 5 {
		kind := []string{"database", "media"}[i%2]
		_, err := e.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: kind, Trigger: "cli", Encrypted: true})
		require.NoError(t, err)
	}
	var page struct {
		Backups    []queries.Backup `json:"backups"`
		NextCursor string           `json:"next_cursor"`
	}
	seen := []int64{}
	next := ""
	for {
		_, body := e.req(t, nil, "GET", "/api/v1/backups?kind=database&limit=2&cursor="+next, e.tokens[auth.Viewer], "")
		page.NextCursor = ""
		require.NoError(t, jsonUnmarshal(body, &page))
		for _, b := range page.Backups {
			require.Equal(t, "database", b.Kind)
			seen = append(seen, b.ID)
		}
		if next = page.NextCursor; next == "" {
			break
		}
	}
	require.Equal(t, []int64{5, 3, 1}, seen)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	_, body := e.req(t, nil, "GET", "/api/v1/backups?since="+future, e.tokens[auth.Viewer], "")
	require.JSONEq(t, `{"backups":[],"next_cursor":""}`, body)
}
