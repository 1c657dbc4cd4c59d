package main

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/queries"
)

// `pisbackup cancel backup ID` ends a backup nobody runs at once, names the OS user, and is audited; unknown
// kinds and a missing ID are usage errors (2); an ended backup has nothing to cancel (1).
func TestCancelCLI(t *testing.T) {
	t.Parallel()
	env, q := scheduleEnv(t)
	env["USER"] = "nurse"
	ctx := context.Background()
	b, err := q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "cli", Encrypted: true, Format: "x"})
	require.NoError(t, err)

	_, _, code := runCLI(t, env, "cancel", "tape", "1")
	require.Equal(t, 2, code)
	_, _, code = runCLI(t, env, "cancel", "backup")
	require.Equal(t, 2, code)

	out, stderr, code := runCLI(t, env, "cancel", "backup", strconv.FormatInt(b.ID, 10))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "backup #"+strconv.FormatInt(b.ID, 10)+" cancelled: cancelled by cli:nurse")
	got, err := q.BackupGet(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "cancelled", got.Status)
	action := "backup.cancel"
	ev, err := q.AuditSearch(ctx, queries.AuditSearchParams{Action: &action, Lim: 10})
	require.NoError(t, err)
	require.Len(t, ev, 1)
	require.Equal(t, "cli:nurse", ev[0].Actor)

	_, stderr, code = runCLI(t, env, "cancel", "backup", strconv.FormatInt(b.ID, 10))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "nothing to cancel")
}
