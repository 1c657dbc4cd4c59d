package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/storage"
)

// MediaOptions describe one media backup.
type MediaOptions struct {
	BackupID int64
	ParentID int64
	Trigger  string
	Root     string // MEDIA_ROOT
	Store    storage.Store
	Keys     *crypt.Keys // nil means the explicit unencrypted opt-out
	// Remote lists extra originals (Cloudinary's) stored under RemotePrefix in the tar; nil when not configured.
	Remote func(ctx context.Context) ([]RemoteFile, error)
	// References are the media paths the clinic database points at (full backups); each one absent from the
	// media set is listed in Manifest.Missing and makes the backup a warning.
	References []string
	// RemoteAlias, when set, names where a reference's Cloudinary original sits in the media set
	// (RemotePrefix + resource type + "/" + public id; for image and video without the format extension, which
	// Cloudinary may normalise, e.g. jpeg to jpg). A reference found there is not missing.
	RemoteAlias func(ref string) []string
	Progress    func(done, total int64)
	Now         func() time.Time
}

// RemoteFile is one original held elsewhere (Cloudinary) that a media backup copies into its tar.
type RemoteFile struct {
	Name string // path inside the tar, below RemotePrefix
	Size int64  // as listed; the download's own length wins
	// Open starts the download and returns its body and exact length.
	Open func(ctx context.Context) (io.ReadCloser, int64, error)
}

// RemotePrefix is where remote originals live inside a media tar, apart from MEDIA_ROOT's own files.
const RemotePrefix = "cloudinary/"

// DumpMedia tars MEDIA_ROOT (and remote originals) through zstd and age into a temporary object that is
// committed only after every file was written and every writer closed. Each file is read once: hashed while
// it is tarred. Files that cannot be read are listed in the manifest and make the backup a warning.
func DumpMedia(ctx context.Context, o MediaOptions) (*Result, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	started := now().UTC()
	if o.Keys != nil && len(o.Keys.Recipients) == 0 {
		o.Keys = nil
	}
	key := storage.BackupKey("media", started, o.BackupID, "tar.zst.age")
	m := &Manifest{FormatVersion: FormatVersion, Tool: "pisbackup", BackupID: o.BackupID, ParentID: o.ParentID,
		Kind: "media", Trigger: o.Trigger, Format: FormatMedia, ArtifactKey: key, StartedAt: started,
		Compression: "zstd", Source: o.Root}
	if o.Keys != nil {
		m.Encrypted, m.Recipients, m.RecipientsFingerprint = true, o.Keys.Public, o.Keys.Fingerprint()
	} else {
		m.Format = "tar+zstd"
		m.Warnings = append(m.Warnings, "backup is NOT encrypted (BACKUP_UNENCRYPTED=true)")
	}
	m.Restore = restoreHint("media", m.Encrypted)

	files, skipped, err := walkMedia(o.Root)
	if err != nil {
		return nil, err
	}
	for _, s := range skipped {
		m.Warnings = append(m.Warnings, "not a regular file, not backed up: "+s)
	}
	var remote []RemoteFile
	if o.Remote != nil {
		if remote, err = o.Remote(ctx); err != nil {
			m.Warnings = append(m.Warnings, fmt.Sprintf("Cloudinary originals not included: %v", err))
		}
	}
	w, err := o.Store.Create(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	sealed, err := writeMediaTar(ctx, o, w, m, files, remote)
	if err != nil {
		_ = w.Abort()
		return nil, err
	}
	if err := w.Commit(); err != nil {
		return nil, fmt.Errorf("publish %s: %w", key, err)
	}
	m.FileCount = len(m.Files)
	m.Missing = missingReferences(o.References, m.Files, o.RemoteAlias)
	if len(m.Unreadable) > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%d file(s) could not be read", len(m.Unreadable)))
	}
	if len(m.Changed) > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%d file(s) changed during backup (%s); their copy may be incomplete: back up media again",
			len(m.Changed), strings.ToValidUTF8(strings.Join(m.Changed[:min(3, len(m.Changed))], ", "), "\uFFFD")))
	}
	if len(m.Missing) > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%d media file(s) referenced by the database are missing", len(m.Missing)))
	}
	m.FinishedAt, m.StoredBytes, m.SHA256 = now().UTC(), sealed.StoredBytes(), sealed.SHA256()
	if err := PutManifest(ctx, o.Store, key, m); err != nil {
		_ = o.Store.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	status := "succeeded"
	if len(m.Warnings) > 0 {
		status = "warning"
	}
	return &Result{Key: key, Manifest: m, Status: status}, nil
}

// writeMediaTar streams every file into the sealer and returns it closed.
func writeMediaTar(ctx context.Context, o MediaOptions, w io.Writer, m *Manifest, files []localFile, remote []RemoteFile) (*Sealer, error) {
	sealer, err := NewSealer(w, keysRecipients(o.Keys))
	if err != nil {
		return nil, err
	}
	tw := &tarStream{tw: tar.NewWriter(sealer), now: time.Now().UTC()}
	for _, f := range files {
		tw.total += f.size
	}
	for _, r := range remote {
		tw.total += r.Size
	}
	report := func() {
		if o.Progress != nil {
			o.Progress(tw.done, tw.total)
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := tw.addLocal(o.Root, f, m); err != nil {
			return nil, err
		}
		report()
	}
	for _, r := range remote {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := tw.addRemote(ctx, r, m); err != nil {
			return nil, err
		}
		report()
	}
	if err := tw.tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	m.PlainBytes = tw.written
	if err := sealer.Close(); err != nil {
		return nil, fmt.Errorf("finish backup stream: %w", err)
	}
	return sealer, nil
}

// missingReferences returns the referenced paths that are not among files (nor, through alias, among the
// Cloudinary originals), sorted and without duplicates.
func missingReferences(refs []string, files []MediaFile, alias func(string) []string) []string {
	have := make(map[string]bool, len(files))
	for _, f := range files {
		have[f.Path] = true
		if strings.HasPrefix(f.Path, RemotePrefix+"image/") || strings.HasPrefix(f.Path, RemotePrefix+"video/") {
			have[strings.TrimSuffix(f.Path, path.Ext(f.Path))] = true
		}
	}
	found := func(r string) bool {
		if have[r] {
			return true
		}
		if alias != nil {
			for _, a := range alias(r) {
				if have[a] {
					return true
				}
			}
		}
		return false
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range refs {
		if !found(r) && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sortStrings(out)
	return out
}
