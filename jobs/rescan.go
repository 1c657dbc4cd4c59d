package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// RescanReport is what rescan-storage found.
type RescanReport struct {
	Manifests int      `json:"manifests"`
	Added     []int64  `json:"added"`
	Present   int      `json:"already_present"`
	Skipped   []string `json:"skipped,omitempty"` // one line per manifest that could not be used, and why
}

// Rescan rebuilds missing backups rows from the manifests in storage, after pisbackup's own database was
// lost. A row is matched by storage key, so running it twice adds nothing; original ids are kept when free.
func Rescan(ctx context.Context, d *Deps) (*RescanReport, error) {
	objs, err := d.Store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list storage: %w", err)
	}
	rep := &RescanReport{Added: []int64{}}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".manifest.json") {
			continue
		}
		rep.Manifests++
		m, err := readManifest(ctx, d, o.Key)
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v", o.Key, err))
			continue
		}
		if _, err := d.Q.BackupByStorageKey(ctx, m.ArtifactKey); err == nil {
			rep.Present++
			continue
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return rep, err
		}
		if st, err := d.Store.Stat(ctx, m.ArtifactKey); err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: its artifact %s is missing", o.Key, m.ArtifactKey))
			continue
		} else if st.Size != m.StoredBytes {
			m.Warnings = append(m.Warnings, fmt.Sprintf("stored object is %d bytes, its manifest says %d", st.Size, m.StoredBytes))
		}
		id, err := rescanID(ctx, d.Q, m.BackupID)
		if err != nil {
			return rep, err
		}
		p := completeParams(id, m, rescanTrigger(m.Trigger), nil)
		if m.ParentID > 0 {
			if _, err := d.Q.BackupGet(ctx, m.ParentID); err == nil {
				p.ParentID = &m.ParentID
			}
		}
		if _, err := d.Q.BackupInsertComplete(ctx, p); err != nil {
			return rep, fmt.Errorf("insert backup from %s: %w", o.Key, err)
		}
		rep.Added = append(rep.Added, id)
	}
	if len(rep.Added) > 0 {
		if err := d.Q.BackupSyncIDSequence(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func readManifest(ctx context.Context, d *Deps, key string) (*backup.Manifest, error) {
	r, err := d.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	m, err := backup.ParseManifest(b)
	switch {
	case err != nil:
		return nil, fmt.Errorf("unreadable manifest: %v", err)
	case m.FormatVersion > backup.FormatVersion:
		return nil, fmt.Errorf("manifest format %d is newer than this pisbackup understands (%d)", m.FormatVersion, backup.FormatVersion)
	case m.Kind != "database" && m.Kind != "media" && m.Kind != "full":
		return nil, fmt.Errorf("unknown kind %q", m.Kind)
	case m.ArtifactKey == "" || m.StartedAt.IsZero():
		return nil, errors.New("manifest lacks artifact_key or started_at")
	}
	return m, nil
}

// rescanID keeps the manifest's id when no row has it, so ids people wrote down still mean the same backup.
func rescanID(ctx context.Context, q *queries.Queries, want int64) (int64, error) {
	if want > 0 {
		if _, err := q.BackupGet(ctx, want); errors.Is(err, pgx.ErrNoRows) {
			return want, nil
		} else if err != nil {
			return 0, err
		}
	}
	return q.BackupNextID(ctx)
}

func rescanTrigger(t string) string {
	switch t {
	case "manual", "schedule", "api", "cli", "upload":
		return t
	}
	return "manual"
}
