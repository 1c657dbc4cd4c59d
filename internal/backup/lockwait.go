package backup

import (
	"context"
	"time"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// StopWithin bounds how long a cancelled or timed-out pg_dump/pg_restore may keep its pipes open after it was
// killed (exec.Cmd.WaitDelay): whatever it left running, the job moves on to clean up within seconds.
const StopWithin = 2 * time.Second

// lockWaitQuery names the relation a session with application_name $1 is waiting to lock, or "" when none of
// them waits on a lock (pg_stat_activity.wait_event_type = 'Lock' and its ungranted pg_locks row). pg_dump
// first takes ACCESS SHARE on every table it dumps, so an ACCESS EXCLUSIVE lock held elsewhere (a migration's
// ALTER TABLE, a LOCK TABLE) makes it wait silently; this is how that wait becomes visible.
const lockWaitQuery = `SELECT COALESCE((
	SELECT l.relation::regclass::text FROM pg_stat_activity a
	JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted AND l.relation IS NOT NULL
	WHERE a.application_name = $1 AND a.wait_event_type = 'Lock' LIMIT 1), '')`

// watchLockWaits reports, every interval until ctx ends, what the sessions named appName wait for: "a lock on
// <table>" while one waits, "" once none does. It connects to source once and gives up quietly if it
// cannot (it only informs).
func watchLockWaits(ctx context.Context, source *dbconn.Settings, appName string, interval time.Duration, report func(string)) {
	if report == nil {
		return
	}
	conn, err := source.Connect(ctx)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			if last != "" {
				report("")
			}
			return
		case <-t.C:
		}
		var rel string
		if err := conn.QueryRow(ctx, lockWaitQuery, appName).Scan(&rel); err != nil {
			continue
		}
		what := ""
		if rel != "" {
			what = "a lock on " + rel
		}
		if what != last {
			report(what)
			last = what
		}
	}
}
