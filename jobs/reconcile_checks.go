package jobs

import (
	"context"
	"fmt"
	"strconv"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// reconcileChecks ends verifications and restores whose job is gone or already final (their worker died), so
// no such row stays "running" forever, and drops the scratch database an abandoned drill left behind. It only
// touches scratch databases named after this catalog's own verifications.
func reconcileChecks(ctx context.Context, d *Deps) error {
	vs, err := d.Q.VerificationOrphaned(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs {
		n, err := d.Q.VerificationAbandon(ctx, queries.VerificationAbandonParams{ID: v.ID, Error: orphanReason(v.JobState)})
		if err != nil || n == 0 {
			continue // it finished meanwhile
		}
		d.Log.Warn("reconciler failed an abandoned verification", "verification_id", v.ID, "job_state", v.JobState)
		if v.Level == "drill" && d.Cfg != nil {
			if admin, err := backup.WithDatabase(d.Cfg.RestoreServer(), "postgres"); err == nil {
				name := backup.DrillPrefix + strconv.FormatInt(v.ID, 10)
				if err := backup.DropDatabase(ctx, admin, name); err != nil {
					d.Log.Warn("could not drop an abandoned drill's scratch database", "database", name, "error", err)
				}
			}
		}
	}
	rs, err := d.Q.RestoreOrphaned(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		msg := orphanReason(r.JobState) + "; the target database may hold a partial restore"
		if n, err := d.Q.RestoreAbandon(ctx, queries.RestoreAbandonParams{ID: r.ID, Error: msg}); err == nil && n > 0 {
			d.Log.Warn("reconciler failed an abandoned restore", "restore_id", r.ID, "job_state", r.JobState)
		}
	}
	return nil
}

func orphanReason(jobState string) string {
	if jobState == "" {
		return "worker stopped: its job is gone from the queue"
	}
	return fmt.Sprintf("worker stopped: its job ended as %s without finishing", jobState)
}
