package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/storage"
)

// Upload types accepted by Ingest.
const (
	UploadDump   = "dump"   // a plain pg_dump custom-format archive; sealed on the way in
	UploadSealed = "sealed" // a pisbackup NAME.dump.zst.age with its manifest; stored as is
	UploadLegacy = "legacy" // the old system's database_backup_*.json.gz; sealed on the way in
	// UploadLegacyJSON is the old system's uncompressed database_backup_*.json; sealed on the way in.
	UploadLegacyJSON = "legacy-json"
	// UploadLegacyZip is the old system's full_backup_*.zip (database JSON + media); see IngestFullZip.
	UploadLegacyZip = "legacy-zip"
)

// UploadType tells the type from the file name, before a byte is read.
func UploadType(filename string) (string, error) {
	switch n := strings.ToLower(filename); {
	case strings.HasSuffix(n, ".dump.zst.age"):
		return UploadSealed, nil
	case strings.HasSuffix(n, ".dump"):
		return UploadDump, nil
	case strings.HasSuffix(n, ".json.gz"):
		return UploadLegacy, nil
	case strings.HasSuffix(n, ".manifest.json"):
		return "", fmt.Errorf("%q is a pisbackup manifest: send it as the \"manifest\" part together with its .dump.zst.age", filename)
	case strings.HasSuffix(n, ".json"):
		return UploadLegacyJSON, nil
	case strings.HasSuffix(n, ".zip"):
		return UploadLegacyZip, nil
	}
	return "", fmt.Errorf("unsupported file %q: upload a .dump, a .dump.zst.age with its manifest, or the old system's database_backup_*.json(.gz) or full_backup_*.zip", filename)
}

// UploadError is an upload refused for what it is (wrong type, truncated, not matching its manifest), as
// opposed to a failure of pisbackup's own storage.
type UploadError struct{ Err error }

func (e *UploadError) Error() string { return e.Err.Error() }
func (e *UploadError) Unwrap() error { return e.Err }

func uploadInvalid(format string, args ...any) error {
	return &UploadError{Err: fmt.Errorf(format, args...)}
}

// ErrTooLarge is returned when an upload exceeds its limit.
var ErrTooLarge = errors.New("upload too large")

// IngestOptions describe one upload.
type IngestOptions struct {
	BackupID  int64
	Type      string
	Filename  string
	Store     storage.Store
	Keys      *crypt.Keys // nil: store unencrypted (the explicit opt-out)
	PGRestore string
	MaxBytes  int64
	// Manifest is required for UploadSealed, and must describe the uploaded file.
	Manifest *Manifest
	// TempDir is where an upload that must be read out of order (a zip) is spooled, sealed; "" is os.TempDir().
	TempDir string
	Now     func() time.Time
}

// Ingest validates an uploaded file while streaming it into a temporary object, and commits it with a
// manifest only when it proved whole and of its type. The type's magic bytes are checked before anything is
// stored; on any failure the temporary object is discarded and nothing is published.
func Ingest(ctx context.Context, r io.Reader, o IngestOptions) (*Result, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	br := newUploadReader(r, o.MaxBytes)
	head, err := br.Peek(5)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	m, ext, err := planIngest(o, head)
	if err != nil {
		return nil, &UploadError{Err: err}
	}
	m.BackupID, m.Trigger, m.Tool = o.BackupID, "upload", "pisbackup"
	// Nothing a file claims about itself is trusted: an upload is dated by its upload, whatever its manifest says
	// (a manifest claiming finished_at 2099 must not look like a fresh backup). The claim is kept as a warning.
	if !m.FinishedAt.IsZero() {
		m.Warnings = append(m.Warnings, "the uploaded manifest claims the backup finished at "+
			m.FinishedAt.UTC().Format(time.RFC3339)+" (unverified; pisbackup dates it from the upload)")
	}
	m.StartedAt, m.FinishedAt = now().UTC(), time.Time{}
	m.ArtifactKey = storage.BackupKey("database", m.StartedAt, o.BackupID, ext)
	err = publishSealed(ctx, o.Store, m, now, func(w io.Writer) error { return ingestBody(ctx, br, w, o, m) })
	if err != nil {
		return nil, err
	}
	return &Result{Key: m.ArtifactKey, Manifest: m, Status: "succeeded"}, nil
}

// newUploadReader reads an upload of at most max bytes (ErrTooLarge past it), buffered for peeking at its head.
func newUploadReader(r io.Reader, max int64) *bufio.Reader {
	return bufio.NewReaderSize(&limitReader{r: r, left: max}, 64<<10)
}

// publishSealed writes m.ArtifactKey with write, commits it, dates m finished, and publishes m beside it. On
// any failure nothing stays in storage: the temporary object is aborted, a committed one deleted.
func publishSealed(ctx context.Context, st storage.Store, m *Manifest, now func() time.Time, write func(io.Writer) error) error {
	w, err := st.Create(ctx, m.ArtifactKey)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := write(w); err != nil {
		_ = w.Abort()
		return err
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("publish upload: %w", err)
	}
	if m.FinishedAt.IsZero() {
		m.FinishedAt = now().UTC()
	}
	if err := PutManifest(ctx, st, m.ArtifactKey, m); err != nil {
		_ = st.Delete(context.WithoutCancel(ctx), m.ArtifactKey)
		return err
	}
	return nil
}

// planIngest checks the type against the first bytes and builds the manifest skeleton.
func planIngest(o IngestOptions, head []byte) (*Manifest, string, error) {
	m := &Manifest{FormatVersion: FormatVersion, Kind: "database", Compression: "zstd",
		Warnings: []string{"uploaded file " + o.Filename}}
	if o.Keys != nil {
		m.Encrypted, m.Recipients, m.RecipientsFingerprint = true, o.Keys.Public, o.Keys.Fingerprint()
	}
	switch o.Type {
	case UploadDump:
		if string(head) != "PGDMP" {
			return nil, "", errors.New("not a pg_dump custom-format archive (it does not start with PGDMP); plain SQL dumps are not accepted")
		}
		m.Format = FormatDatabase
		if !m.Encrypted {
			m.Format = "pg_dump-custom+zstd"
		}
		m.Restore = restoreHint("database", m.Encrypted)
		return m, "dump.zst.age", nil
	case UploadLegacy:
		if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
			return nil, "", errors.New("not a gzip file: the old system's exports are database_backup_*.json.gz")
		}
		legacyManifest(m, FormatLegacy)
		return m, "json.gz.zst.age", nil
	case UploadLegacyJSON:
		if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] != '[' {
			return nil, "", errors.New("not a Django dumpdata export: database_backup_*.json is a JSON array and starts with '['")
		}
		legacyManifest(m, FormatLegacyJSON)
		return m, "json.zst.age", nil
	case UploadSealed:
		src := o.Manifest
		if src == nil {
			return nil, "", errors.New("a .dump.zst.age needs its manifest: send the NAME.manifest.json as the \"manifest\" field before the file")
		}
		if src.FormatVersion < 1 || src.FormatVersion > FormatVersion || src.Kind != "database" || !strings.HasPrefix(src.Format, "pg_dump-custom") {
			return nil, "", fmt.Errorf("the manifest does not describe a database backup this version understands (format_version %d, kind %q, format %q)", src.FormatVersion, src.Kind, src.Format)
		}
		if src.SHA256 == "" || src.StoredBytes <= 0 {
			return nil, "", errors.New("the manifest lacks sha256 or stored_bytes, so the upload cannot be checked")
		}
		cp := *src
		cp.ParentID = 0 // the parent lives in another catalog
		// Its global objects stayed in the other installation's storage; a key here would name one of ours.
		cp.GlobalsKey, cp.GlobalsSHA256, cp.GlobalsBytes, cp.GlobalsError = "", "", 0, "uploaded: the global objects were not uploaded"
		if len(cp.Tables) > 0 {
			cp.TablesSource = TablesClaimed // the archive is sealed; its row counts are the file's own claim
		}
		cp.Warnings = append(append([]string{}, src.Warnings...), m.Warnings...)
		return &cp, "dump.zst.age", nil
	}
	return nil, "", fmt.Errorf("unknown upload type %q", o.Type)
}

// legacyManifest marks m as a legacy export of format and says how to restore it by hand.
func legacyManifest(m *Manifest, format string) {
	m.Format = format
	m.Warnings = append(m.Warnings, "legacy Django dumpdata export: restore it with `manage.py loaddata`, not pg_restore")
	file := "database_backup.json"
	if format == FormatLegacy {
		file += ".gz"
	}
	dec := "age -d -i KEY.txt FILE | zstd -d"
	if !m.Encrypted {
		dec = "zstd -d < FILE"
	}
	m.Restore = dec + " > " + file + "; python manage.py loaddata " + file
}

// ingestBody streams the upload into w, checking it as it goes.
func ingestBody(ctx context.Context, r io.Reader, w io.Writer, o IngestOptions, m *Manifest) error {
	if o.Type == UploadSealed {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), r)
		if err != nil {
			return uploadErr(err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); n != m.StoredBytes || sum != m.SHA256 {
			return uploadInvalid("the file does not match its manifest: %d bytes with SHA-256 %s, the manifest says %d bytes with %s (truncated or a different file?)", n, sum[:12], m.StoredBytes, m.SHA256[:min(12, len(m.SHA256))])
		}
		return nil
	}
	sealer, err := NewSealer(w, keysRecipients(o.Keys))
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	check := make(chan error, 1)
	go func() { // the validator reads the same bytes as the sealer, concurrently
		var err error
		switch o.Type {
		case UploadLegacy:
			m.Tables, err = ParseLegacyGzip(pr)
			m.TablesSource = TablesArchive
		case UploadLegacyJSON:
			m.Tables, err = ParseLegacy(pr)
			m.TablesSource = TablesArchive
		default:
			err = checkDump(ctx, pr, o.PGRestore)
		}
		_, _ = io.Copy(io.Discard, pr)
		check <- err
	}()
	n, copyErr := io.Copy(io.MultiWriter(sealer, pw), r)
	pw.CloseWithError(copyErr)
	checkErr := <-check
	switch {
	case copyErr != nil:
		return uploadErr(copyErr)
	case checkErr != nil:
		return &UploadError{Err: checkErr}
	}
	if err := sealer.Close(); err != nil {
		return err
	}
	m.PlainBytes, m.StoredBytes, m.SHA256 = n, sealer.StoredBytes(), sealer.SHA256()
	return nil
}

// checkDump reads the whole archive with pg_restore into nowhere: every data block must be present, so a
// truncated dump fails here rather than at 2 a.m.
func checkDump(ctx context.Context, r io.Reader, pgRestore string) error {
	cmd := exec.CommandContext(ctx, pgRestore, "--file=/dev/null")
	cmd.Env = dbconn.BaseEnv(os.Environ())
	if err := feed(ctx, cmd, r, true, nil); err != nil {
		return fmt.Errorf("the .dump is incomplete or damaged (truncated?): %v", err)
	}
	return nil
}

func uploadErr(err error) error {
	var ue *UploadError
	if errors.Is(err, ErrTooLarge) || errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("reading the upload failed: %w", err)
}

type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(b []byte) (int, error) {
	for l.left <= 0 { // at the limit: one more byte means too large, EOF means exactly at the limit
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		if err != nil {
			return 0, err
		}
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	return n, err
}
