package main

import (
	"context"
	"errors"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/jobs"
)

// checkRestoreRole is the start-up check of serve, worker and every command that drills or restores: it asks
// the server what the restore role may do (backup.CheckRestoreRole) and refuses a role with more power than
// CREATEDB, in one line naming RESTORE_DATABASE_URL. RESTORE_ALLOW_SUPERUSER=true turns the refusal into a
// loud warning. A missing CREATEDB or an unreachable restore server only warns here (backups still run; each
// drill and restore checks again and fails with the reason).
func (a *app) checkRestoreRole(ctx context.Context) error {
	g := jobs.NewGuard(a.cfg, nil)
	r, err := g.CheckRole(ctx)
	var re *backup.RestoreRoleError
	switch {
	case errors.As(err, &re) && re.NoCreate:
		a.log.Warn(err.Error())
		return nil
	case err != nil && !errors.As(err, &re):
		a.log.Warn("cannot check the restore role now; every drill and restore checks it again", "error", err.Error())
		return nil
	case err != nil:
		return err
	}
	if p := r.Powers(); len(p) > 0 {
		a.log.Warn("RESTORE_ALLOW_SUPERUSER=true: DRILLS AND RESTORES RUN A BACKUP'S SQL WITH THE RESTORE ROLE'S POWER. "+
			"Whoever can place SQL in a backup (the clinic app, an uploaded file) can then run programs and read files on the database server. "+
			"Use it only on a single-user laptop.", "role", r.Name, "powers", p)
	}
	return nil
}
