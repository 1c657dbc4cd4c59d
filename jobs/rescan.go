package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// RescanReport is what rescan-storage found.
type RescanReport struct {
	Manifests int     `json:"manifests"`
	Added     []int64 `json:"added"`
	// NotGood lists added backups whose artifact did not hash to what its manifest says: they are recorded
	// with a failed checksum verification, so they never count as good.
	NotGood []string `json:"not_good"`
	Present int      `json:"already_present"`
	// Skipped has one line per object that could not be catalogued, and why: unusable manifests, manifests
	// whose artifact is gone, and artifacts whose manifest is gone.
	Skipped []string `json:"skipped"`
}

// Rescan rebuilds missing backups rows from the manifests in storage, after pisbackup's own database was
// lost. A row is matched by storage key, so running it twice adds nothing; original ids are kept when free.
func Rescan(ctx context.Context, d *Deps) (*RescanReport, error) {
	objs, err := d.Store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list storage: %w", err)
	}
	rep := &RescanReport{Added: []int64{}, NotGood: []string{}, Skipped: []string{}}
	described := map[string]bool{} // artifact keys some manifest names
	manifests := map[string]bool{}
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".manifest.json") {
			manifests[o.Key] = true
		}
	}
	defer func() { rep.Skipped = append(rep.Skipped, orphanArtifacts(ctx, d, objs, manifests, described)...) }()
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
		described[m.ArtifactKey] = true
		if _, err := d.Q.BackupByStorageKey(ctx, m.ArtifactKey); err == nil {
			rep.Present++
			continue
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return rep, err
		}
		if _, err := d.Store.Stat(ctx, m.ArtifactKey); err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: its artifact %s is missing", o.Key, m.ArtifactKey))
			continue
		}
		// Hash what is added: a manifest says what the artifact should be, only its bytes say what it is.
		sum, size, hashErr := backup.Checksum(ctx, d.Store, m.ArtifactKey, m.SHA256, m.StoredBytes)
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
		status, msg := "succeeded", ""
		if hashErr != nil {
			status, msg = "failed", hashErr.Error()
			rep.NotGood = append(rep.NotGood, fmt.Sprintf("#%d %s: %s", id, m.ArtifactKey, msg))
		}
		details, _ := json.Marshal(map[string]any{"sha256": sum, "bytes": size, "expected_sha256": m.SHA256,
			"expected_bytes": m.StoredBytes, "by": "rescan-storage"})
		if _, err := d.Q.VerificationInsertFinished(ctx, queries.VerificationInsertFinishedParams{BackupID: id,
			Level: "checksum", Status: status, Details: details, Error: msg}); err != nil {
			return rep, err
		}
	}
	if len(rep.Added) > 0 {
		if err := d.Q.BackupSyncIDSequence(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// orphanArtifacts names the stored objects no manifest describes (their sidecar was deleted): rescan cannot
// catalogue them, and says so instead of passing over them in silence.
func orphanArtifacts(ctx context.Context, d *Deps, objs []storage.Info, manifests, described map[string]bool) []string {
	var out []string
	for _, o := range objs {
		// Sidecars (manifests, global objects) belong to an artifact, which is listed itself when undescribed.
		if storage.IsSidecar(o.Key) || described[o.Key] {
			continue
		}
		if manifests[storage.ManifestKey(o.Key)] {
			continue // its manifest exists but was unusable: already listed
		}
		if _, err := d.Q.BackupByStorageKey(ctx, o.Key); err == nil {
			continue // catalogued already (its manifest alone is gone: verification reports that)
		}
		out = append(out, fmt.Sprintf("%s: no manifest (%s) describes this artifact; not added. Restore it by hand (docs/disaster-recovery.md) or upload it.",
			o.Key, storage.ManifestKey(o.Key)))
	}
	return out
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
