package views

import (
	"encoding/json"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/queries"
)

// ActivityVM is the detail page's live part below the summary: verifications, restores and the forms that
// start them. It polls itself while any of them is in flight.
type ActivityVM struct {
	Chrome
	B             queries.Backup
	Verifications []queries.Verification
	Restores      []queries.Restore
	// Restore form state, re-rendered with the message when a value was refused.
	TargetDB, RestoreError string
}

// Activity builds the activity part from the detail page's model.
func (vm BackupDetailVM) Activity() ActivityVM {
	return ActivityVM{Chrome: vm.Chrome, B: vm.B, Verifications: vm.Verifications, Restores: vm.Restores,
		TargetDB: vm.RestoreTarget, RestoreError: vm.RestoreError}
}

// Live reports whether a verification or restore is still queued or running.
func (vm ActivityVM) Live() bool {
	for _, v := range vm.Verifications {
		if InFlight(v.Status) {
			return true
		}
	}
	for _, r := range vm.Restores {
		if InFlight(r.Status) {
			return true
		}
	}
	return false
}

// VerificationWork is a running verification's progress (a drill's bytes restored of the backup's plain size)
// and its Cancel button for operators.
func (vm ActivityVM) VerificationWork(v queries.Verification) WorkVM {
	w := WorkVM{Verb: "restored", Done: v.ProgressBytes, Total: v.ProgressTotal, Started: v.StartedAt, Now: vm.Now}
	if vm.Can(auth.Operator) {
		w.CancelURL = "/verifications/" + itoa(v.ID) + "/cancel"
	}
	return w
}

// RestoreWork is a running restore's progress and its Cancel button for admins.
func (vm ActivityVM) RestoreWork(r queries.Restore) WorkVM {
	w := WorkVM{Verb: "restored", Done: r.ProgressBytes, Total: r.ProgressTotal, Started: r.StartedAt, Now: vm.Now}
	if vm.Can(auth.Admin) {
		w.CancelURL = "/restores/" + itoa(r.ID) + "/cancel"
	}
	return w
}

// Finished reports whether the backup has an artifact that can be verified or restored.
func (vm ActivityVM) Finished() bool {
	return (vm.B.Status == "succeeded" || vm.B.Status == "warning") && vm.B.StorageKey != "" && vm.B.PrunedAt == nil
}

// Restorable reports whether the restore form applies (database dumps, not legacy exports or media yet).
func (vm ActivityVM) Restorable() bool {
	return vm.Finished() && vm.B.Kind == "database" && !backup.IsLegacy(vm.B.Format)
}

// DrillTables is a drill's per-table comparison, from its details.
func DrillTables(v queries.Verification) []backup.TableCheck {
	if v.Level != "drill" || len(v.Details) == 0 {
		return nil
	}
	var res backup.DrillResult
	if json.Unmarshal(v.Details, &res) != nil {
		return nil
	}
	return res.Tables
}

// DrillObjects is a drill's comparison of schema objects, materialized views and large objects, from its
// details; nil when the backup's manifest did not record them (or for other levels).
func DrillObjects(v queries.Verification) *backup.ObjectsCheck {
	if v.Level != "drill" || len(v.Details) == 0 {
		return nil
	}
	var res backup.DrillResult
	if json.Unmarshal(v.Details, &res) != nil {
		return nil
	}
	return res.Objects
}

// RestoreListing is a dry run's archive listing, from its details.
func RestoreListing(r queries.Restore) string {
	var d struct {
		Listing string `json:"listing"`
	}
	_ = json.Unmarshal(r.Details, &d)
	return d.Listing
}

// Count renders a row count where -1 means "absent".
func Count(n int64) string {
	if n < 0 {
		return "absent"
	}
	return itoa(n)
}

// UploadVM is the upload page.
type UploadVM struct {
	Chrome
	MaxBytes int64
	Error    string
}
