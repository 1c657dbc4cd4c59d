package backup

import (
	"archive/tar"
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/storage"
)

// The old system's full backups come from galenelijah/USC-PIS backend/utils/fast_backup_engine.py
// (FastBackupEngine.create_full_backup): one full_backup_YYYYMMDD_HHMMSS.zip written by Python's zipfile with
// ZIP_DEFLATED, holding
//
//	database_backup_YYYYMMDD_HHMMSS.json  `manage.py dumpdata <apps> --indent 2`, at the top level
//	media/<path>                          every file under MEDIA_ROOT (BASE_DIR/media in backend/settings.py),
//	                                      named relative to BASE_DIR, so <path> is what the FileFields store
//	staticfiles/<path>                    collectstatic's output (STATIC_ROOT, BASE_DIR/staticfiles)
//
// Its restore (backup_restore_engine.py, _restore_full_backup) ran loaddata on the JSON and copied every other
// entry over BASE_DIR/<name>. pisbackup stores such a zip the way it stores its own full backups: a database
// part (the JSON, FormatLegacyJSON) and a media part (a media tar of the media/ files, FormatMedia), linked to a
// parent, so the media are verified and restored exactly as a media backup's are: into a new or empty
// directory, never over existing files. Static files are rebuilt by collectstatic and are left out (counted in
// a warning).

// Limits on a full_backup zip. They are checked against the zip's central directory before a byte is inflated;
// entries are then read through archive/zip, which refuses an entry that inflates past or short of its declared
// size or fails its CRC-32, and the database JSON is held to the Legacy* limits as well.
const (
	LegacyZipMaxEntries = 100_000
	// LegacyZipMaxInflated bounds the sum of the entries' declared sizes, in bytes.
	LegacyZipMaxInflated = 64 << 30
	// Past 128 MiB the entries together may declare at most LegacyMaxRatio times the zip's own size: media
	// barely compresses and JSON 5-30:1, a zip bomb 1000:1 and more.
	legacyZipRatioFloor = 128 << 20
	// legacyZipMaxDirectory bounds the central directory archive/zip reads, and keeps in memory at a few hundred
	// bytes an entry, before the entry count can be checked: a 2 GiB upload could list 40 million entries.
	legacyZipMaxDirectory = 16 << 20
)

// FullUploadIDs are the catalog ids of the three rows an uploaded full backup becomes.
type FullUploadIDs struct{ Parent, Database, Media int64 }

// FullUpload is what IngestFullZip published: both parts with their manifests, and the parent's manifest, which
// like a pisbackup full backup's has no stored object of its own.
type FullUpload struct {
	Parent          *Manifest
	Database, Media *Result
}

// Keys lists every stored object (artifacts and manifests), for removal when the catalog refuses the rows.
func (f *FullUpload) Keys() []string {
	return []string{f.Database.Key, storage.ManifestKey(f.Database.Key), f.Media.Key, storage.ManifestKey(f.Media.Key)}
}

// IngestFullZip validates an uploaded full_backup_*.zip (o.Type UploadLegacyZip) and stores it as a database
// part and a media part. The upload is first spooled to o.TempDir as age ciphertext to a key held only in
// memory (archive/zip needs random access; no plaintext reaches the disk), then its central directory is checked
// against the limits above and the layout above, and only then are entries inflated, straight into the sealed
// parts. Any refusal is an *UploadError naming the entry and what is wrong with it, and leaves nothing stored.
func IngestFullZip(ctx context.Context, r io.Reader, o IngestOptions, ids FullUploadIDs) (*FullUpload, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	br := newUploadReader(r, o.MaxBytes)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, uploadErr(err)
	}
	switch string(head) {
	case "PK\x03\x04":
	case "PK\x05\x06":
		return nil, uploadInvalid("the zip is empty: a full_backup_*.zip holds a database_backup_*.json")
	default:
		return nil, uploadInvalid("not a zip file (it does not start with PK): the old system's full backups are full_backup_*.zip")
	}
	sp, err := spoolSealed(br, o.TempDir)
	if err != nil {
		return nil, err
	}
	defer sp.Close()
	zr, err := openLegacyZip(sp)
	if err != nil {
		return nil, err
	}
	plan, err := planFullZip(zr.File, sp.size)
	if err != nil {
		return nil, err
	}

	started := now().UTC()
	uploaded := fmt.Sprintf("uploaded file %s (%d bytes, SHA-256 %s)", o.Filename, sp.size, sp.sha256)
	part := func(id int64, kind, what string) *Manifest {
		m := &Manifest{FormatVersion: FormatVersion, Tool: "pisbackup", BackupID: id, ParentID: ids.Parent, Kind: kind,
			Trigger: "upload", StartedAt: started, Compression: "zstd", Warnings: []string{uploaded + ", " + what}}
		if o.Keys != nil {
			m.Encrypted, m.Recipients, m.RecipientsFingerprint = true, o.Keys.Public, o.Keys.Fingerprint()
		}
		return m
	}
	dbm := part(ids.Database, "database", "entry "+plan.db.Name)
	legacyManifest(dbm, FormatLegacyJSON)
	dbm.ArtifactKey = storage.BackupKey("database", started, ids.Database, "json.zst.age")
	jsonOpts := o
	jsonOpts.Type = UploadLegacyJSON
	err = publishSealed(ctx, o.Store, dbm, now, func(w io.Writer) error {
		rc, err := openZipEntry(plan.db)
		if err != nil {
			return err
		}
		defer rc.Close()
		return ingestBody(ctx, rc, w, jsonOpts, dbm)
	})
	if err != nil {
		return nil, err
	}

	mm := part(ids.Media, "media", "its media/ entries")
	mm.Format, mm.Restore = FormatMedia, restoreHint("media", mm.Encrypted)
	if !mm.Encrypted {
		mm.Format = "tar+zstd"
	}
	if plan.static > 0 {
		mm.Warnings = append(mm.Warnings, fmt.Sprintf("%d staticfiles/ entries left out: collectstatic rebuilds them", plan.static))
	}
	mm.ArtifactKey = storage.BackupKey("media", started, ids.Media, "tar.zst.age")
	err = publishSealed(ctx, o.Store, mm, now, func(w io.Writer) error { return writeZipMedia(ctx, w, o, plan.media, mm) })
	if err != nil {
		cctx := context.WithoutCancel(ctx)
		_ = o.Store.Delete(cctx, dbm.ArtifactKey)
		_ = o.Store.Delete(cctx, storage.ManifestKey(dbm.ArtifactKey))
		return nil, err
	}

	parent := &Manifest{FormatVersion: FormatVersion, Tool: "pisbackup", BackupID: ids.Parent, Kind: "full", Trigger: "upload",
		Format: "recovery-point", StartedAt: started, FinishedAt: mm.FinishedAt, Encrypted: dbm.Encrypted && mm.Encrypted,
		RecipientsFingerprint: dbm.RecipientsFingerprint, Compression: "zstd", PlainBytes: dbm.PlainBytes + mm.PlainBytes,
		StoredBytes: dbm.StoredBytes + mm.StoredBytes, Tables: dbm.Tables, TablesSource: TablesArchive, FileCount: mm.FileCount,
		Warnings: append([]string{uploaded}, mm.Warnings[1:]...),
		Restore:  fmt.Sprintf("restore the database part (%s) with manage.py loaddata and the media part (%s) into a directory", dbm.ArtifactKey, mm.ArtifactKey)}
	return &FullUpload{Parent: parent, Database: &Result{Key: dbm.ArtifactKey, Manifest: dbm, Status: "succeeded"},
		Media: &Result{Key: mm.ArtifactKey, Manifest: mm, Status: "succeeded"}}, nil
}

// zipPlan is a checked full_backup zip: which entry is the database and which are media.
type zipPlan struct {
	db     *zip.File
	media  []zipMedia
	static int // staticfiles/ entries, left out
}

type zipMedia struct {
	f    *zip.File
	name string // below media/: the path the clinic's FileFields store
}

// planFullZip checks every central directory entry before anything is inflated: names stay inside their folder
// and are unique, entries are regular files, stored or deflated, unencrypted, laid out as the old system wrote
// them, do not share data, and do not declare more than the limits allow.
func planFullZip(files []*zip.File, size int64) (*zipPlan, error) {
	p := &zipPlan{}
	seen := make(map[string]bool, len(files))
	var declared uint64
	for _, f := range files {
		name := strings.TrimSuffix(f.Name, "/")
		clean, err := safeName(name)
		if err != nil || strings.ContainsRune(name, 0) {
			return nil, uploadInvalid("zip entry %q points outside its folder (an absolute path, '..' or a backslash): refused", f.Name)
		}
		if seen[clean] {
			return nil, uploadInvalid("zip entry %q appears twice: refused, as either copy could overwrite the other", f.Name)
		}
		seen[clean] = true
		mode := f.Mode()
		switch {
		case f.Flags&0x1 != 0:
			return nil, uploadInvalid("zip entry %q is encrypted: the old system's full backups are not", f.Name)
		case strings.HasSuffix(f.Name, "/") || mode.IsDir():
			continue
		case !mode.IsRegular():
			return nil, uploadInvalid("zip entry %q is a %s, not a regular file: refused", f.Name, modeName(mode))
		case f.Method != zip.Store && f.Method != zip.Deflate:
			return nil, uploadInvalid("zip entry %q uses compression method %d; only stored and deflated entries are read", f.Name, f.Method)
		}
		declared += f.UncompressedSize64
		top, rest, _ := strings.Cut(clean, "/")
		lower := strings.ToLower(top)
		switch {
		case rest == "" && strings.HasPrefix(lower, "database_backup_") && strings.HasSuffix(lower, ".json"):
			if p.db != nil {
				return nil, uploadInvalid("the zip holds two database exports, %q and %q: which one is the backup?", p.db.Name, f.Name)
			}
			p.db = f
		case top == "media" && rest != "":
			p.media = append(p.media, zipMedia{f: f, name: rest})
		case top == "staticfiles" && rest != "":
			p.static++
		default:
			return nil, uploadInvalid("zip entry %q is not part of the old system's full backup (database_backup_*.json, media/…, staticfiles/…)", f.Name)
		}
	}
	switch {
	case p.db == nil:
		return nil, uploadInvalid("the zip holds no database_backup_*.json at its top level: not one of the old system's full_backup_*.zip")
	case p.db.UncompressedSize64 > LegacyMaxInflated:
		return nil, uploadInvalid("zip entry %q declares %d bytes of JSON; the limit for legacy exports is %d GiB", p.db.Name, p.db.UncompressedSize64, LegacyMaxInflated>>30)
	case declared > LegacyZipMaxInflated:
		return nil, uploadInvalid("the zip's entries declare %d bytes in all; the limit for a legacy full backup is %d GiB", declared, LegacyZipMaxInflated>>30)
	case declared > legacyZipRatioFloor && declared > LegacyMaxRatio*uint64(max(size, 1)):
		return nil, uploadInvalid("the zip's entries declare %d bytes from a %d-byte file, more than %d times its size: a decompression bomb, not a backup", declared, size, LegacyMaxRatio)
	}
	if err := mediaFolderConflicts(p.media); err != nil {
		return nil, err
	}
	return p, overlappingEntries(files, size)
}

// mediaFolderConflicts refuses a name that is both a file and a folder ("a" and "a/b"): the second could not
// be restored, or would land inside what the first made.
func mediaFolderConflicts(media []zipMedia) error {
	files := make(map[string]bool, len(media))
	for _, m := range media {
		files[m.name] = true
	}
	for _, m := range media {
		for d := path.Dir(m.name); d != "."; d = path.Dir(d) {
			if files[d] {
				return uploadInvalid("zip entry %q needs media/%s to be a folder, but it is also a file: refused", m.f.Name, d)
			}
		}
	}
	return nil
}

// overlappingEntries refuses entries whose data ranges overlap: sharing one compressed kernel among many
// entries is how non-recursive zip bombs multiply (https://www.bamsoftware.com/hacks/zipbomb/).
func overlappingEntries(files []*zip.File, size int64) error {
	type span struct {
		start, end int64
		name       string
	}
	spans := make([]span, 0, len(files))
	for _, f := range files {
		off, err := f.DataOffset()
		if err != nil {
			return uploadInvalid("zip entry %q: its local header is missing or damaged (truncated?)", f.Name)
		}
		end := off + int64(f.CompressedSize64)
		if f.CompressedSize64 > uint64(size) || end > size {
			return uploadInvalid("zip entry %q runs past the end of the file (truncated?)", f.Name)
		}
		spans = append(spans, span{off, end, f.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end || spans[i].start == spans[i-1].start {
			return uploadInvalid("zip entries %q and %q share data, which is how zip bombs multiply: refused", spans[i-1].name, spans[i].name)
		}
	}
	return nil
}

// writeZipMedia tars the media entries through the sealer, as DumpMedia tars MEDIA_ROOT: each entry is hashed
// while it is written and listed in m.Files. An entry that cannot be read whole refuses the upload.
func writeZipMedia(ctx context.Context, w io.Writer, o IngestOptions, media []zipMedia, m *Manifest) error {
	sealer, err := NewSealer(w, keysRecipients(o.Keys))
	if err != nil {
		return err
	}
	tw := &tarStream{tw: tar.NewWriter(sealer), now: time.Now().UTC()}
	for _, e := range media {
		if err := ctx.Err(); err != nil {
			return err
		}
		rc, err := openZipEntry(e.f)
		if err != nil {
			return err
		}
		err = tw.entry(e.name, int64(e.f.UncompressedSize64), e.f.Modified, rc, m)
		if err == nil {
			err = rc.err
		}
		if err == nil { // the entry held its declared size; reading on proves there is no more and checks the CRC-32
			_, err = io.Copy(io.Discard, rc)
		}
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.tw.Close(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	m.PlainBytes, m.FileCount = tw.written, len(m.Files)
	if err := sealer.Close(); err != nil {
		return fmt.Errorf("finish media part: %w", err)
	}
	m.StoredBytes, m.SHA256 = sealer.StoredBytes(), sealer.SHA256()
	return nil
}

// zipEntry reads one entry and turns archive/zip's errors into refusals naming the entry.
type zipEntry struct {
	rc  io.ReadCloser
	f   *zip.File
	err error // the first read error, as an *UploadError
}

func openZipEntry(f *zip.File) (*zipEntry, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, uploadInvalid("zip entry %q cannot be read: %v", f.Name, err)
	}
	return &zipEntry{rc: rc, f: f}, nil
}

func (z *zipEntry) Read(p []byte) (int, error) {
	n, err := z.rc.Read(p)
	if err != nil && err != io.EOF {
		var ue *UploadError
		if !errors.As(err, &ue) {
			err = z.refusal(err)
		}
		if z.err == nil {
			z.err = err
		}
	}
	return n, err
}

func (z *zipEntry) Close() error { return z.rc.Close() }

func (z *zipEntry) refusal(err error) error {
	switch {
	case errors.Is(err, zip.ErrFormat):
		return uploadInvalid("zip entry %q inflates past its declared size of %d bytes: a zip bomb or a damaged file", z.f.Name, z.f.UncompressedSize64)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return uploadInvalid("zip entry %q ends before its declared size of %d bytes (truncated or damaged)", z.f.Name, z.f.UncompressedSize64)
	case errors.Is(err, zip.ErrChecksum):
		return uploadInvalid("zip entry %q fails its CRC-32 check: the file is damaged", z.f.Name)
	}
	return uploadInvalid("zip entry %q cannot be read (damaged?): %v", z.f.Name, err)
}

// modeName says what a non-regular entry is, in words.
func modeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file (" + m.String() + ")"
}
