package backup

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatVersion of the manifest; readers refuse newer versions rather than guess.
const FormatVersion = 1

// Manifest is the NAME.manifest.json sidecar. It alone is enough to understand and restore the artifact
// without pisbackup, and `rescan-storage` rebuilds the catalog from it.
type Manifest struct {
	FormatVersion         int          `json:"format_version"`
	Tool                  string       `json:"tool"`
	BackupID              int64        `json:"backup_id"`
	ParentID              int64        `json:"parent_id,omitempty"`
	Kind                  string       `json:"kind"`
	Trigger               string       `json:"trigger,omitempty"`
	Format                string       `json:"format"`
	ArtifactKey           string       `json:"artifact_key"`
	StartedAt             time.Time    `json:"started_at"`
	FinishedAt            time.Time    `json:"finished_at"`
	Encrypted             bool         `json:"encrypted"`
	Recipients            []string     `json:"recipients,omitempty"`
	RecipientsFingerprint string       `json:"recipients_fingerprint,omitempty"`
	Compression           string       `json:"compression"`
	PgDumpVersion         string       `json:"pg_dump_version,omitempty"`
	PgDumpPath            string       `json:"pg_dump_path,omitempty"` // the client chosen for ServerVersion
	ServerVersion         string       `json:"server_version,omitempty"`
	Database              string       `json:"database,omitempty"`
	Source                string       `json:"source,omitempty"` // redacted
	PlainBytes            int64        `json:"plain_bytes"`
	StoredBytes           int64        `json:"stored_bytes"`
	SHA256                string       `json:"sha256"`
	Tables                []TableCount `json:"tables,omitempty"`
	// Properties are what CREATE DATABASE and ALTER DATABASE set, which pg_dump without --create does not
	// carry; nil in manifests before issue 22.
	Properties *DatabaseProperties `json:"database_properties,omitempty"`
	// Roles are the roles the dump references (owners, grantees, policy roles). Roles are global objects:
	// the dump does not create them, so a target server must have them for grants and policies to apply.
	Roles []string `json:"roles_referenced,omitempty"`
	// Tablespaces are the non-default tablespaces the source's tables use; restores map them to the
	// target's default (pg_restore --no-tablespaces).
	Tablespaces []string `json:"tablespaces,omitempty"`
	// GlobalsKey is the stored, sealed output of `pg_dumpall --globals-only --no-role-passwords` for the
	// source's cluster (roles, memberships, tablespaces; storage.GlobalsKey), with its SHA-256 and stored size;
	// GlobalsError says why it is missing where the source did not allow it. Empty in older manifests.
	GlobalsKey    string `json:"globals_key,omitempty"`
	GlobalsSHA256 string `json:"globals_sha256,omitempty"`
	GlobalsBytes  int64  `json:"globals_bytes,omitempty"`
	GlobalsError  string `json:"globals_error,omitempty"`
	// DumpSettings are the output settings pg_dump's session ran with (DumpOutputSettings, and lc_monetary as
	// the source had it): a drill reads the restored rows in the same settings to compare them with the archive's
	// text (RestoredContent). nil in manifests written before, and in uploads: their content is not compared.
	DumpSettings map[string]string `json:"dump_settings,omitempty"`
	// Inventory is the schema objects, materialized view row counts and large objects in the dump's snapshot;
	// drills compare them after restore. nil in manifests written before it was recorded.
	Inventory *ObjectInventory `json:"inventory,omitempty"`
	// TablesSource says where Tables came from: "" pisbackup counted them in the dump's snapshot, "archive"
	// they were read from the uploaded archive itself, TablesClaimed an uploaded manifest said so (unverified).
	TablesSource string `json:"tables_source,omitempty"`
	// Sequences are every sequence's value in the dump's snapshot; drills compare them after restore.
	Sequences  []SequenceValue `json:"sequences,omitempty"`
	Files      []MediaFile     `json:"files,omitempty"`
	FileCount  int             `json:"file_count,omitempty"`
	Unreadable []string        `json:"unreadable,omitempty"`
	Changed    []string        `json:"changed_during_backup,omitempty"` // size or mtime moved while read
	Missing    []string        `json:"missing_references,omitempty"`
	Warnings   []string        `json:"warnings,omitempty"`
	Restore    string          `json:"restore_hint"`
}

// DatabaseProperties are the source database's own properties (pg_database, pg_db_role_setting,
// pg_shdescription) read in the dump's snapshot.
type DatabaseProperties struct {
	Encoding       string   `json:"encoding"`                  // e.g. "UTF8", "SQL_ASCII"
	LocaleProvider string   `json:"locale_provider,omitempty"` // "libc", "icu" (PostgreSQL 15+), "builtin" (17+)
	Collate        string   `json:"collate"`
	Ctype          string   `json:"ctype"`
	ICULocale      string   `json:"icu_locale,omitempty"`
	Settings       []string `json:"settings,omitempty"` // ALTER DATABASE … SET, as "name=value"
	Comment        string   `json:"comment,omitempty"`
}

// Sources of a manifest's table counts.
const (
	TablesArchive = "archive"
	TablesClaimed = "claimed"
)

// TableCount is an exact row count taken in the dump's own snapshot, with the table's content digest
// (CountTables; empty in manifests written before issue 22 or without digests).
type TableCount struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Digest string `json:"digest,omitempty"`
}

// MediaFile is one file of a media backup. Path holds the name's exact bytes, which need not be UTF-8 (a
// Linux file name is any bytes but '/' and NUL); in JSON such a name travels base64-encoded as path_bytes,
// with a readable path beside it, because encoding/json would replace the invalid bytes with U+FFFD and the
// name would no longer match its tar entry.
type MediaFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type mediaFileJSON struct {
	Path      string `json:"path"`
	PathBytes []byte `json:"path_bytes,omitempty"` // only when Path is not valid UTF-8
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
}

// MarshalJSON writes path_bytes beside path when the name is not valid UTF-8.
func (f MediaFile) MarshalJSON() ([]byte, error) {
	j := mediaFileJSON{Path: f.Path, Size: f.Size, SHA256: f.SHA256}
	if !utf8.ValidString(f.Path) {
		j.Path, j.PathBytes = strings.ToValidUTF8(f.Path, "\uFFFD"), []byte(f.Path)
	}
	return json.Marshal(j)
}

// UnmarshalJSON prefers path_bytes, the name's exact bytes, when present.
func (f *MediaFile) UnmarshalJSON(b []byte) error {
	var j mediaFileJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = MediaFile{Path: j.Path, Size: j.Size, SHA256: j.SHA256}
	if j.PathBytes != nil {
		f.Path = string(j.PathBytes)
	}
	return nil
}

// Formats written by pisbackup.
const (
	FormatDatabase = "pg_dump-custom+zstd+age"
	FormatMedia    = "tar+zstd+age"
)

// JSON is the manifest as stored (indented: people read these at 2 a.m.).
func (m *Manifest) JSON() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// ParseManifest reads a sidecar.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func restoreHint(kind string, encrypted bool) string {
	dec := "age -d -i KEY.txt FILE | "
	if !encrypted {
		dec = "cat FILE | "
	}
	if kind == "media" {
		return dec + "zstd -d | tar -x -C DIR"
	}
	return dec + "zstd -d | pg_restore --no-owner -d NEWDB"
}
