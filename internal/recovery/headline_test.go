package recovery

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/queries"
)

// The headline is sentences a person reads in one go: a problem whose message ends in an error's quoted text
// still ends before the next sentence starts.
func TestHeadlineSentencesDoNotRunOn(t *testing.T) {
	s := State{Problems: []Problem{BackupFailed(queries.Backup{ID: 1, Kind: "database",
		Error: `permission denied for table "public"."authentication_user": as the owner run GRANT SELECT ON "public"."authentication_user" TO "backup"`}, "")}}
	s.finish()
	require.Contains(t, s.Headline, `TO "backup". No backup has been proven by a restore drill yet.`)

	s = State{Problems: []Problem{{Rule: RuleBackupStale, Severity: StatusWarning, Message: "The newest database backup is 3 d old."}}}
	s.finish()
	require.Contains(t, s.Headline, "3 d old. No backup", "a message that ends its sentence gets no second full stop")
}
