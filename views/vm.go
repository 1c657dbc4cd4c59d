// Package views holds the templ components: one typed view model per page, partials for HTMX swaps, and
// emails/ for alert bodies.
package views

import (
	"time"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

// Chrome is what every page's layout needs: who is signed in, where times are shown, global warnings.
type Chrome struct {
	Title    string
	Nav      string // which nav item is current
	UserName string
	Role     auth.Role
	TZ       *time.Location
	Now      time.Time
	// Banners are shown on every page (e.g. "backups are not encrypted").
	Banners []string
	HTMX    bool // htmx is available; without it the pages still work as plain forms
}

// Can reports whether the signed-in user may use actions that need min; buttons for the rest are hidden.
func (c Chrome) Can(min auth.Role) bool { return c.Role.Allows(min) }

// BackupListVM is the backups page.
type BackupListVM struct {
	Chrome
	Rows    []queries.Backup
	Kind    string
	Status  string
	NextURL string // cursor link to older rows; empty on the last page
	// Live is true while any listed row is in flight: the table then polls itself.
	Live bool
	// PollURL re-renders the table with the same filters.
	PollURL string
	// ScheduleNames names the schedules of scheduled backups by id.
	ScheduleNames map[int64]string
}

// TriggerText is the list's "Trigger" cell: the schedule's name for a scheduled backup.
func (vm BackupListVM) TriggerText(b queries.Backup) string {
	if b.ScheduleID != nil {
		if n, ok := vm.ScheduleNames[*b.ScheduleID]; ok {
			return n
		}
	}
	return b.Trigger
}

// BackupDetailVM is one backup's page.
type BackupDetailVM struct {
	Chrome
	B             queries.Backup
	Manifest      ManifestVM
	Children      []queries.Backup
	Verifications []queries.Verification
	Restores      []queries.Restore
	// Waiting is what the running backup waits for (from its job's lease), e.g. "a lock on public.x".
	Waiting string
	// RestoreTarget and RestoreError re-render the restore form with what was typed and why it was refused.
	RestoreTarget, RestoreError string
}

// CanRecover is whether the "Recover records" link shows: operators, on a stored database backup or a
// finished full backup (its database part gives the rows, its media part the files).
func (vm BackupDetailVM) CanRecover() bool {
	stored := vm.B.Kind == "database" && vm.B.StorageKey != ""
	full := vm.B.Kind == "full" && (vm.B.Status == "succeeded" || vm.B.Status == "warning")
	return vm.Can(auth.Operator) && (stored || full) && vm.B.PrunedAt == nil && !InFlight(vm.B.Status)
}

// Work is the running backup's progress line and Cancel button (operators; not for a full backup's part,
// which is cancelled through its full backup).
func (vm BackupDetailVM) Work() WorkVM {
	w := WorkVM{Verb: "read", Done: vm.B.ProgressBytes, Total: vm.B.ProgressTotal, Started: vm.B.StartedAt, Now: vm.Now,
		Waiting: vm.Waiting}
	if vm.Can(auth.Operator) && vm.B.ParentID == nil {
		w.CancelURL = "/backups/" + itoa(vm.B.ID) + "/cancel"
	}
	return w
}

// ManifestVM is the part of a manifest the detail page shows.
type ManifestVM struct {
	Tables []TableRowVM
	// TablesSource says where the row counts come from (backup.TablesClaimed: an uploaded file's own claim).
	TablesSource string
	FileCount    int
	Missing      []string
	Unreadable   []string
	Raw          string
	// PgDumpPath is the pg_dump client chosen for the source's server version.
	PgDumpPath string
}

// TableRowVM is one table's row count in a manifest.
type TableRowVM struct {
	Name string
	Rows int64
}
