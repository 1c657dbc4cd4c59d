package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// maxListing bounds the archive listing kept in a row's details; the full listing is one command away.
const maxListing = 256 << 10

// runVerification performs v's level on b. Checksums work for every kind (bytes are bytes); the deeper levels
// switch on the kind, and kinds whose readers do not exist yet say so plainly.
func runVerification(ctx context.Context, d *Deps, b queries.Backup, v queries.Verification) verifyOutcome {
	if err := verifiable(b); err != nil {
		return verifyOutcome{Err: err}
	}
	// Every level checks the sidecar first: without it the artifact cannot be understood or rebuilt into a
	// catalog (rescan-storage), so a backup whose manifest is gone or disagrees is not good.
	if err := checkManifest(ctx, d, b); err != nil {
		return verifyOutcome{Err: err}
	}
	if v.Level == "checksum" {
		sum, size, err := backup.Checksum(ctx, d.Store, b.StorageKey, b.Sha256, b.BytesStored)
		return verifyOutcome{Details: map[string]any{"sha256": sum, "bytes": size, "expected_sha256": b.Sha256,
			"expected_bytes": b.BytesStored, "manifest": storage.ManifestKey(b.StorageKey)}, Err: err}
	}
	switch b.Kind {
	case "database":
		return verifyDatabase(ctx, d, b, v)
	case "media":
		return verifyMedia(ctx, d, b, v)
	case "full":
		return verifyOutcome{Err: errors.New("a full backup is verified through its database and media parts; verify those")}
	}
	return verifyOutcome{Err: fmt.Errorf("unknown backup kind %q", b.Kind)}
}

// checkManifest requires the stored NAME.manifest.json of b to exist, parse, and describe the same object the
// catalog recorded (key, stored size, SHA-256), and the global objects stored beside it (roles, memberships,
// tablespaces; what a restore on another server needs) to be present and intact, as the catalog's copy of the
// manifest recorded them (checkGlobals).
func checkManifest(ctx context.Context, d *Deps, b queries.Backup) error {
	stored, err := checkStoredManifest(ctx, d, b)
	if err != nil {
		return err
	}
	return checkGlobals(ctx, d, b, stored)
}

// checkGlobals re-reads b's global-objects sidecar against the SHA-256 and size in the catalog's copy of the
// manifest (never the stored sidecar's own claim) and requires the stored manifest to name the same object. A
// backup that recorded none (older, uploaded, or the source did not allow it) has nothing to check.
func checkGlobals(ctx context.Context, d *Deps, b queries.Backup, stored *backup.Manifest) error {
	if len(b.Manifest) == 0 {
		return nil
	}
	cm, err := backup.ParseManifest(b.Manifest)
	if err != nil || cm.GlobalsKey == "" {
		return nil
	}
	if stored.GlobalsKey != cm.GlobalsKey || stored.GlobalsSHA256 != cm.GlobalsSHA256 {
		return fmt.Errorf("the manifest %s names global objects %q (SHA-256 %s), the catalog recorded %q (%s)",
			storage.ManifestKey(b.StorageKey), stored.GlobalsKey, stored.GlobalsSHA256, cm.GlobalsKey, cm.GlobalsSHA256)
	}
	if _, _, err := backup.Checksum(ctx, d.Store, cm.GlobalsKey, cm.GlobalsSHA256, cm.GlobalsBytes); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("the global objects %s (roles, memberships, tablespaces a restore on another server needs) are missing", cm.GlobalsKey)
		}
		return fmt.Errorf("the global objects %s (roles, memberships, tablespaces a restore on another server needs): %w", cm.GlobalsKey, err)
	}
	return nil
}

// checkStoredManifest is checkManifest's check of the manifest sidecar itself; it returns the sidecar read.
func checkStoredManifest(ctx context.Context, d *Deps, b queries.Backup) (*backup.Manifest, error) {
	key := storage.ManifestKey(b.StorageKey)
	m, err := backup.GetManifest(ctx, d.Store, b.StorageKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("the manifest %s is missing: the artifact cannot be restored or re-catalogued without it", key)
	case err != nil:
		return nil, fmt.Errorf("the manifest %s is unreadable: %v", key, err)
	case m.ArtifactKey != b.StorageKey:
		return nil, fmt.Errorf("the manifest %s describes %q, not this backup's %q", key, m.ArtifactKey, b.StorageKey)
	case m.SHA256 != b.Sha256 || m.StoredBytes != b.BytesStored:
		return nil, fmt.Errorf("the manifest %s does not match the catalog: it says %d bytes with SHA-256 %s, the catalog recorded %d bytes with %s",
			key, m.StoredBytes, m.SHA256, b.BytesStored, b.Sha256)
	}
	return m, nil
}

// verifiable refuses backups without a stored artifact before any work starts.
func verifiable(b queries.Backup) error {
	switch {
	case b.PrunedAt != nil:
		return fmt.Errorf("backup #%d was pruned by retention; its artifact is gone", b.ID)
	case b.Status != "succeeded" && b.Status != "warning":
		return fmt.Errorf("backup #%d is %s; only finished backups can be verified", b.ID, b.Status)
	case b.StorageKey == "":
		return fmt.Errorf("backup #%d has no stored artifact", b.ID)
	}
	return nil
}

func verifyDatabase(ctx context.Context, d *Deps, b queries.Backup, v queries.Verification) verifyOutcome {
	a := artifactOf(d, b)
	legacy := backup.IsLegacy(b.Format)
	switch {
	case v.Level == "archive" && legacy:
		models, err := backup.VerifyLegacy(ctx, a, b.Format)
		return verifyOutcome{Details: map[string]any{"models": models}, Err: err}
	case v.Level == "archive":
		l, err := listArchive(ctx, d, a)
		if l == nil {
			return verifyOutcome{Err: err}
		}
		if err == nil && b.BytesRead > 0 && l.PlainBytes != b.BytesRead {
			err = fmt.Errorf("the archive decompresses to %d bytes, the backup recorded %d", l.PlainBytes, b.BytesRead)
		}
		text := l.Text
		if len(text) > maxListing {
			text = text[:maxListing] + "\n; … listing truncated"
		}
		return verifyOutcome{Details: map[string]any{"entries": l.Entries, "plain_bytes": l.PlainBytes, "listing": text}, Err: err}
	case v.Level == "drill" && legacy:
		return verifyOutcome{Err: errors.New("legacy Django exports cannot be drilled with pg_restore; the archive level parses them fully")}
	case v.Level == "drill":
		return drillDatabase(ctx, d, b, v, a)
	}
	return verifyOutcome{Err: fmt.Errorf("unknown verification level %q", v.Level)}
}

func drillDatabase(ctx context.Context, d *Deps, b queries.Backup, v queries.Verification, a backup.Artifact) verifyOutcome {
	var expected []backup.TableCount
	var seqs []backup.SequenceValue
	var inv *backup.ObjectInventory
	var roles, spaces []string
	var props *backup.DatabaseProperties
	var settings map[string]string
	if len(b.Manifest) > 0 {
		m, err := backup.ParseManifest(b.Manifest)
		if err != nil {
			return verifyOutcome{Err: fmt.Errorf("the backup's manifest is unreadable: %w", err)}
		}
		expected, seqs, inv, roles, spaces, props = m.Tables, m.Sequences, m.Inventory, m.Roles, m.Tablespaces, m.Properties
		settings = m.DumpSettings
	}
	guard := NewGuard(d.Cfg, d.Q)
	pgRestore, err := backup.ClientFor(ctx, d.Cfg.PGClients, "pg_restore", guard.Admin)
	if err != nil {
		return verifyOutcome{Err: err}
	}
	if d.Cfg.RestoreAllowSuperuser {
		d.Log.Warn("RESTORE_ALLOW_SUPERUSER=true: this drill runs the backup's SQL with whatever power the restore role has", "verification_id", v.ID)
	}
	var done atomic.Int64
	stop := progressLoop(ctx, func(c context.Context) {
		_ = d.Q.VerificationProgress(c, queries.VerificationProgressParams{ID: v.ID, ProgressBytes: done.Load(), ProgressTotal: b.BytesRead})
	})
	res, err := backup.Drill(ctx, backup.DrillOptions{Artifact: a, PGRestore: pgRestore.Path, Guard: guard,
		ID: v.ID, Expected: expected, Sequences: seqs, Inventory: inv, Roles: roles, Tablespaces: spaces, Properties: props, DumpSettings: settings, AfterRestore: d.DrillAfterRestore, Progress: func(n int64) { done.Store(n) }})
	stop()
	out := verifyOutcome{Details: res, Err: err}
	if res != nil {
		out.Note = strings.TrimSpace(problemsText(res.Problems) + "\n" + strings.Join(res.Warnings, "\n"))
	}
	if res != nil && res.RTOMillis > 0 {
		out.RTOms = &res.RTOMillis
	}
	return out
}

// listArchive runs `pg_restore --list` with the newest installed pg_restore: no server is involved, and the
// newest reads every archive version an older one does.
func listArchive(ctx context.Context, d *Deps, a backup.Artifact) (*backup.Listing, error) {
	pgRestore, err := d.Cfg.PGClients.Newest(ctx, "pg_restore")
	if err != nil {
		return nil, err
	}
	return backup.ListArchive(ctx, a, pgRestore.Path)
}

// artifactOf is how workers open a backup's stored object.
func artifactOf(d *Deps, b queries.Backup) backup.Artifact {
	a := backup.Artifact{Store: d.Store, Key: b.StorageKey, Encrypted: b.Encrypted}
	if d.Keys != nil {
		a.Identities = d.Keys.Identities
	}
	return a
}
