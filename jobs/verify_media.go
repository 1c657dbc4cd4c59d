package jobs

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// verifyMedia runs the archive and drill levels for media backups: the archive level compares the tar listing
// with the manifest; a drill extracts into a temporary directory and compares every file's SHA-256.
func verifyMedia(ctx context.Context, d *Deps, b queries.Backup, v queries.Verification) verifyOutcome {
	if len(b.Manifest) == 0 {
		return verifyOutcome{Err: fmt.Errorf("backup #%d has no manifest to compare with", b.ID)}
	}
	m, err := backup.ParseManifest(b.Manifest)
	if err != nil {
		return verifyOutcome{Err: fmt.Errorf("the backup's manifest is unreadable: %w", err)}
	}
	p, err := artifactOf(d, b).Open(ctx)
	if err != nil {
		return verifyOutcome{Err: err}
	}
	defer p.Close()
	var c *backup.MediaCheck
	switch v.Level {
	case "archive":
		c, err = backup.CheckMediaArchive(p, m)
	case "drill":
		started := d.now()
		c, err = backup.DrillMedia(p, m, "")
		if err == nil {
			rto := d.now().Sub(started).Milliseconds()
			out := verifyOutcome{Details: c, RTOms: &rto}
			if !c.OK() {
				out.Err = fmt.Errorf("%d difference(s) between the restored files and the manifest", len(c.Problems))
			}
			return out
		}
	default:
		return verifyOutcome{Err: fmt.Errorf("unknown verification level %q", v.Level)}
	}
	if err != nil {
		return verifyOutcome{Details: c, Err: err}
	}
	if !c.OK() {
		return verifyOutcome{Details: c, Err: fmt.Errorf("%d difference(s) between the archive and its manifest", len(c.Problems))}
	}
	return verifyOutcome{Details: c}
}
