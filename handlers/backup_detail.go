package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) backupDetail(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.backupDetailVM(r)
	if err != nil {
		return err
	}
	return views.BackupDetailPage(vm).Render(r.Context(), w)
}

// backupSummary is the live region of the detail page (BackupLive), polled by the page.
func (h *Handlers) backupSummary(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.backupDetailVM(r)
	if err != nil {
		return err
	}
	return views.BackupLive(vm).Render(r.Context(), w)
}

func (h *Handlers) backupDetailVM(r *http.Request) (views.BackupDetailVM, error) {
	var vm views.BackupDetailVM
	id, err := pathID(r)
	if err != nil {
		return vm, err
	}
	b, err := h.Q.BackupGet(r.Context(), id)
	if err != nil {
		return vm, NotFound(err, "backup")
	}
	vm = views.BackupDetailVM{Chrome: h.chrome(r, "Backup #"+strconv.FormatInt(id, 10), "backups"), B: b}
	if b.Status == "running" && b.JobID != nil {
		if l, err := h.Q.LeaseGetJob(r.Context(), *b.JobID); err == nil {
			vm.Waiting = l.WaitingFor
		}
	}
	if len(b.Manifest) > 0 {
		if m, err := backup.ParseManifest(b.Manifest); err == nil {
			for _, t := range m.Tables {
				name := t.Name // legacy exports list Django models, which have no schema
				if t.Schema != "" {
					name = t.Schema + "." + t.Name
				}
				vm.Manifest.Tables = append(vm.Manifest.Tables, views.TableRowVM{Name: name, Rows: t.Rows})
			}
			vm.Manifest.FileCount, vm.Manifest.Missing, vm.Manifest.Unreadable = m.FileCount, m.Missing, m.Unreadable
			vm.Manifest.PgDumpPath = m.PgDumpPath
			vm.Manifest.TablesSource = m.TablesSource
			pretty, _ := json.MarshalIndent(m, "", "  ")
			vm.Manifest.Raw = string(pretty)
		}
	}
	if b.Kind == "full" { // its parts are verified and restored on their own pages
		if vm.Children, err = h.Q.BackupListChildren(r.Context(), &b.ID); err != nil {
			return vm, err
		}
	}
	if vm.Verifications, err = h.Q.VerificationListByBackup(r.Context(), id); err != nil {
		return vm, err
	}
	if vm.Restores, err = h.Q.RestoreListByBackup(r.Context(), id); err != nil {
		return vm, err
	}
	if !principalFrom(r.Context()).Role.Allows(auth.Admin) {
		// Restores are admin-only, and so is where they went: a viewer or operator sees that a restore
		// happened and how it ended, not the target database's name, its error text or its listing.
		for i := range vm.Restores {
			vm.Restores[i].Target, vm.Restores[i].Details = "", nil
			if vm.Restores[i].Error != "" {
				vm.Restores[i].Error = "failed (details for admins)"
			}
		}
	}
	return vm, nil
}

// pathID reads the {id} path value as a positive integer, or 404s (a malformed id names nothing).
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(CodeNotFound, "no such id %q", r.PathValue("id"))
	}
	return id, nil
}
