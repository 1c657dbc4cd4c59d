package handlers

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/storage"
)

// Deleting a full backup through the API deletes its parts too: the database part's dump, manifest and global
// objects (roles of the clinic's cluster) and the media part, as retention does; none is left behind in storage
// nor listed as a live backup.
func TestDeleteFullBackupDeletesItsParts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newAuthEnv(t, true)
	e.d.Cfg.MediaRoot = t.TempDir()
	_, err := demo.SeedMedia(e.d.Cfg.MediaRoot, 1)
	require.NoError(t, err)
	fid := e.fullBackup(t)
	kids, err := e.d.Q.BackupListChildren(ctx, &fid)
	require.NoError(t, err)
	require.Len(t, kids, 2)
	var keys []string
	for _, k := range kids {
		require.NotEmpty(t, k.StorageKey)
		keys = append(keys, k.StorageKey, storage.ManifestKey(k.StorageKey))
		if k.Kind == "database" {
			keys = append(keys, storage.GlobalsKey(k.StorageKey))
		}
	}
	for _, k := range keys {
		_, err := e.d.Store.Stat(ctx, k)
		require.NoError(t, err, k)
	}
	// This env runs no verification worker: the parts' automatic checksums stay queued, and a delete waits for
	// them; end them here (their outcome is not what this test is about).
	_, err = e.d.Pool.Exec(ctx, `UPDATE verifications SET status = 'cancelled', finished_at = now()
		WHERE backup_id = ANY($1) AND status IN ('queued', 'running')`, []int64{kids[0].ID, kids[1].ID})
	require.NoError(t, err)
	resp, body := e.req(t, nil, "DELETE", "/api/v1/backups/"+idText(fid), e.tokens[auth.Admin], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	for _, k := range keys {
		_, err := e.d.Store.Stat(ctx, k)
		require.Error(t, err, "%s is left behind", k)
	}
	for _, k := range kids {
		row, err := e.d.Q.BackupGet(ctx, k.ID)
		require.NoError(t, err)
		require.NotNil(t, row.PrunedAt, "part #%d (%s) is marked pruned", k.ID, k.Kind)
	}
}
