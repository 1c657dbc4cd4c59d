package config

import (
	"testing"

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
