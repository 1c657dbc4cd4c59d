package views

import (
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/queries"
)

// MediaVM is the media migration page: Cloudinary's configuration, the newest run with its live progress,
// its dry-run report or failures, the ledger's totals and the run history.
type MediaVM struct {
	Chrome
	MediaRoot  string
	Configured bool // Cloudinary credentials are set
	Cloud      string
	Current    *queries.MediaMigration // newest run, nil before the first
	Folders    []MediaFolderVM         // the newest run's plan by top-level folder
	Failures   []MediaFailureVM
	Notes      []string
	Ledger     []MediaLedgerVM
	Runs       []queries.MediaMigration
	Mapped     int // files the ledger proves are in Cloudinary (the mapping's size)
	// Columns is the newest run's per-column resolvability report (nil before a run read the clinic database).
	Columns []MediaColumnVM
	// Unresolved is that report's total of stored values the app would not find.
	Unresolved int
	// NamingCheckedAt is when that report was taken, NamingNote the prefix and tag it was taken with
	// ("with prefix "clinic/" and tag "pisbackup".").
	NamingCheckedAt time.Time
	NamingNote      string
}

// MediaColumnVM is one FileField column of the resolvability report.
type MediaColumnVM struct {
	Column, ResourceType                       string
	Missing                                    bool
	Values, InCloudinary, Pending, UnresolvedN int
	Unresolved                                 []MediaUnresolvedVM
}

// MediaUnresolvedVM is one stored value the app would not find, with the URL it requests and what to do.
type MediaUnresolvedVM struct{ Value, URL, Reason, Fix string }

// MediaFolderVM is one top-level folder of a plan.
type MediaFolderVM struct {
	Folder string
	Files  int
	Bytes  int64
}

// MediaFailureVM is one file a run could not migrate.
type MediaFailureVM struct{ Path, Error string }

// MediaLedgerVM counts ledger rows in one status.
type MediaLedgerVM struct {
	Status string
	N      int64
}

// Live reports whether the newest run is still going, so the panel polls itself.
func (vm MediaVM) Live() bool { return vm.Current != nil && InFlight(vm.Current.Status) }

// MigrationPercent is the share of files handled (verified, skipped or failed) by a run.
func MigrationPercent(m queries.MediaMigration) int {
	if m.Status == "succeeded" || m.Status == "warning" {
		return 100
	}
	if m.TotalFiles <= 0 {
		return 0
	}
	return int(min(99, 100*int64(m.Verified+m.Skipped+m.Failed)/int64(m.TotalFiles)))
}

// MigrationKind says what a run did, in a word.
func MigrationKind(m queries.MediaMigration) string {
	s := "migration"
	if m.DryRun {
		s = "dry run"
	}
	if m.BackupFirst {
		s += ", backup first"
	}
	if m.DeleteLocal {
		s += ", delete local"
	}
	return s
}

func i32(n int32) string { return strconv.FormatInt(int64(n), 10) }
