package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRestoreServerAndUploadLimit(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Same(t, c.Source, c.RestoreServer(), "drills default to the clinic database's server")
	require.EqualValues(t, 2<<30, c.UploadMaxBytes)

	c, err = Load(env(map[string]string{"RESTORE_DATABASE_URL": "postgres://admin:pw@scratch.example/postgres", "UPLOAD_MAX_BYTES": "500M"}))
	require.NoError(t, err)
	require.Equal(t, "postgres://admin:xxxxx@scratch.example:5432/postgres", c.RestoreServer().String())
	require.EqualValues(t, 500<<20, c.UploadMaxBytes)

	for k, v := range map[string]string{"RESTORE_DATABASE_URL": "mysql://x", "UPLOAD_MAX_BYTES": "lots"} {
		_, err := Load(env(map[string]string{k: v}))
		require.ErrorContains(t, err, k)
	}
}

// A heartbeat timeout shorter than a few lease renewals would have the reconciler end live work: refused.
func TestHeartbeatTimeoutHasAFloor(t *testing.T) {
	for _, v := range []string{"1ms", "1s", "2.9s"} {
		_, err := Load(env(map[string]string{"BACKUP_HEARTBEAT_TIMEOUT": v}))
		require.ErrorContains(t, err, "BACKUP_HEARTBEAT_TIMEOUT: must be at least 3s", v)
	}
	c, err := Load(env(map[string]string{"BACKUP_HEARTBEAT_TIMEOUT": "3s"}))
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, c.HeartbeatTimeout)
}
