package recordrecovery

// Summary is what the catalog (recoveries.summary) and the audit log keep of a recovery: keys, statuses,
// changed column names and counts, never column values (those stay in the backup and the encrypted undo
// artifact). Undo reads Written (the hashes rows must still have) and Media.Restored from it.
type Summary struct {
	Tables        []TableDiff   `json:"tables"`
	Rows          []SummaryRow  `json:"rows"`
	Written       []Touched     `json:"written,omitempty"`
	UndoEncrypted bool          `json:"undo_encrypted,omitempty"`
	Media         *MediaSummary `json:"media,omitempty"`
}

// SummaryRow is one row of the diff without its values.
type SummaryRow struct {
	Table   string   `json:"table"`
	Key     string   `json:"key"`
	Status  string   `json:"status"`
	Columns []string `json:"changed_columns,omitempty"`
}

// MediaSummary counts the files the recovered rows reference by status (MediaRestore …) and names the ones an
// applied recovery placed in MEDIA_ROOT by PathDigest: file names are column values.
type MediaSummary struct {
	BackupID    int64    `json:"backup_id"` // the media part they come from
	Restore     int      `json:"restore"`
	Present     int      `json:"present"`
	NotInBackup int      `json:"not_in_backup"`
	Refused     int      `json:"refused"`
	Restored    []string `json:"restored_path_sha256,omitempty"`
}

// Summarize keeps d's per-table counts and, per row, its key, status and changed column names.
func Summarize(d *Diff) Summary {
	s := Summary{Tables: d.Tables, Rows: []SummaryRow{}}
	for _, r := range d.Rows {
		sr := SummaryRow{Table: r.Table, Key: r.Key, Status: r.Status}
		for _, c := range r.Changes {
			sr.Columns = append(sr.Columns, c.Column)
		}
		s.Rows = append(s.Rows, sr)
	}
	return s
}

// SummarizeMedia counts mp's files by status; media is the id of the media backup they come from.
func SummarizeMedia(media int64, mp *MediaPlan) *MediaSummary {
	return &MediaSummary{BackupID: media, Restore: mp.Count(MediaRestore), Present: mp.Count(MediaPresent),
		NotInBackup: mp.Count(MediaAbsent), Refused: mp.Count(MediaRefused)}
}
