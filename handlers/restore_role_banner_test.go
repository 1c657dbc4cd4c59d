package handlers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
)

// Issue 13 §1: the opt-out that lets drills run a dump's SQL as a superuser is loud, on every page.
func TestRestoreAllowSuperuserBanner(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	require.NotContains(t, e.page(t, auth.Viewer, "/").Text(), "RESTORE_ALLOW_SUPERUSER")
	e.d.Cfg.RestoreAllowSuperuser = true
	require.Contains(t, e.page(t, auth.Viewer, "/").Find("[role=alert]").Text(), "RESTORE_ALLOW_SUPERUSER is on")
}
