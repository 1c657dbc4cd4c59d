package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/views"
)

// recoverPage is the "Recover records" page of a backup: GET shows the form (tables from the manifest), POST
// compares (operators) or applies (administrators, the table name typed) through jobs.Recover, the same
// engine as the CLI and the API, and shows the diff (and, with media, the referenced files); after an apply,
// administrators get the undo form (recoveryUndo).
func (h *Handlers) recoverPage(w http.ResponseWriter, r *http.Request) error {
	dvm, err := h.backupDetailVM(r)
	if err != nil {
		return err
	}
	vm := views.RecoverVM{Chrome: h.chrome(r, fmt.Sprintf("Recover records from backup #%d", dvm.B.ID), "backups"), B: dvm.B}
	if m, err := backup.ParseManifest(dvm.B.Manifest); err == nil {
		for _, t := range m.Tables {
			vm.Tables = append(vm.Tables, t.Schema+"."+t.Name)
		}
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return formError(err)
		}
		f := r.PostForm
		vm.Table, vm.Keys, vm.Where = f.Get("table"), f.Get("keys"), f.Get("where")
		vm.WithRelated, vm.Overwrite, vm.WithMedia = f.Get("with_related") != "", f.Get("overwrite") != "", f.Get("with_media") != ""
		mode := f.Get("mode")
		if mode != jobs.RecoverApply {
			mode = jobs.RecoverDryRun
		}
		var keys []recordrecovery.Key
		badKey := false
		for _, line := range strings.Split(vm.Keys, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			k, err := recordrecovery.ParseKey(line)
			if err != nil {
				vm.Error, badKey = strings.TrimPrefix(err.Error(), "--key "), true
			}
			keys = append(keys, k)
		}
		p := principalFrom(r.Context())
		switch {
		case badKey:
		case mode == jobs.RecoverApply && !p.Role.Allows(auth.Admin):
			return Errorf(CodeForbidden, "applying a recovery needs an administrator")
		case mode == jobs.RecoverApply && f.Get("confirm") != vm.Table:
			vm.Error = fmt.Sprintf("type the table name %q exactly to apply; nothing was written", vm.Table)
			mode = jobs.RecoverDryRun
		}
		if !badKey {
			res, err := jobs.Recover(r.Context(), h.jobDeps(), jobs.RecoverRequest{BackupID: dvm.B.ID, Table: vm.Table, Keys: keys, Where: vm.Where,
				WithRelated: vm.WithRelated, WithMedia: vm.WithMedia, Mode: mode, Overwrite: vm.Overwrite, Actor: p.Name})
			if res != nil {
				vm.RecoveryID, vm.Diff, vm.Media = res.RecoveryID, res.Diff, res.Media
			}
			if err != nil {
				vm.Error = err.Error()
			} else if mode == jobs.RecoverApply {
				vm.Applied = true
				h.auditChanged(r, map[string]any{"recovery_id": res.RecoveryID, "rows": len(res.Touched)})
				vm.Done = fmt.Sprintf("Recovery #%d wrote %d row(s)", res.RecoveryID, len(res.Touched))
				if res.Media != nil {
					vm.Done += fmt.Sprintf(" and restored %d media file(s)", len(res.MediaRestored))
				}
				vm.Done += fmt.Sprintf("; undo it below or with: pisbackup recover --undo %d.", res.RecoveryID)
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return views.RecoverPage(vm).Render(r.Context(), w)
}
