package handlers

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views"
)

// Deleting from the page needs the typed confirmation, checked on the server (a script can skip the dialog),
// removes the artifact and manifest, keeps the row, and is audited.
func TestBackupDeletePageNeedsTypedConfirmation(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	b, err := e.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true})
	require.NoError(t, err)
	key := "database/2026/11/25/database-20261125T000000Z-" + idText(b.ID) + ".dump.zst.age"
	for _, k := range []string{key, storage.ManifestKey(key), storage.GlobalsKey(key)} {
		w, err := e.d.Store.Create(ctx, k)
		require.NoError(t, err)
		_, err = w.Write([]byte("sealed bytes"))
		require.NoError(t, err)
		require.NoError(t, w.Commit())
	}
	_, err = e.d.Pool.Exec(ctx, "UPDATE backups SET status = 'succeeded', storage_key = $2, finished_at = now() WHERE id = $1", b.ID, key)
	require.NoError(t, err)

	page := "/backups/" + idText(b.ID)
	_, body := e.req(t, nil, "GET", page, e.tokens[auth.Admin], "")
	require.Contains(t, body, `data-testid="delete-dialog"`)
	_, body = e.req(t, nil, "GET", page, e.tokens[auth.Operator], "")
	require.NotContains(t, body, `data-testid="delete-open"`, "only admins see Delete")

	resp, _ := e.req(t, nil, "POST", page+"/delete", e.tokens[auth.Admin], "confirm=yes")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	_, err = e.d.Store.Stat(ctx, key)
	require.NoError(t, err, "a wrong confirmation deletes nothing")

	resp, _ = e.req(t, nil, "POST", page+"/delete", e.tokens[auth.Operator], "confirm="+views.DeleteConfirmation(b.ID))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	c := e.client(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = e.req(t, c, "POST", page+"/delete", e.tokens[auth.Admin], "confirm="+views.DeleteConfirmation(b.ID))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	for _, k := range []string{key, storage.ManifestKey(key), storage.GlobalsKey(key)} {
		_, err = e.d.Store.Stat(ctx, k)
		require.ErrorIs(t, err, storage.ErrNotFound)
	}
	row, err := e.d.Q.BackupGet(ctx, b.ID)
	require.NoError(t, err)
	require.NotNil(t, row.PrunedAt, "the row stays as history, marked pruned")
	require.NotEmpty(t, e.audit(t, "backup.delete"))
}
