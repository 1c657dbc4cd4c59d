package jobs

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/uscpis/pisbackup/queries"
)

func init() { afterBackupHooks = append(afterBackupHooks, scheduleVerifyAfterBackup) }

// scheduleVerifyAfterBackup runs the verification level a schedule asks for after each of its backups. Every
// good backup already gets a checksum verification (verify.go), so only the deeper levels are added here.
func scheduleVerifyAfterBackup(ctx context.Context, d *Deps, b queries.Backup) {
	if b.ScheduleID == nil || b.ParentID != nil || (b.Status != "succeeded" && b.Status != "warning") || b.StorageKey == "" {
		return
	}
	s, err := d.Q.ScheduleGet(ctx, *b.ScheduleID)
	if err != nil || (s.VerifyLevel != "archive" && s.VerifyLevel != "drill") {
		return
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err == nil {
		_, err = EnqueueVerification(ctx, d.Pool, client, VerifyRequest{BackupID: b.ID, Level: s.VerifyLevel})
	}
	if err != nil {
		d.Log.Error("the schedule's verification was not queued", "backup_id", b.ID, "level", s.VerifyLevel, "error", err)
	}
}
