package handlers

import (
	"net/http"
	"strings"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/jobs"
)

// Route is one line of the route table: the ServeMux pattern, the minimum role, and the action. The role
// enforcement, the role test and openapi.json's x-min-role all read this same table.
type Route struct {
	Pattern string // "METHOD /path/{param}"
	Role    auth.Role
	Handle  func(http.ResponseWriter, *http.Request) error
	// Summary documents API operations in openapi.json.
	Summary string
	// Query names the documented query parameters of an API operation.
	Query []string
	// Request is an example request body, shown in openapi.json (its presence marks the operation as taking JSON).
	Request any
	// Page marks an HTMX fragment: the path of the full page it belongs to, with the same {params}. Sign-in
	// never returns a browser to a fragment (it would show bare HTML), but to its Page.
	Page string
	// Probe routes are answered without a session (and so without the catalog): liveness must not depend on
	// the database, and a probe sent with a cookie must not fail because the session store is down.
	Probe bool
	// Inert routes answer every method without changing anything (the catch-all 404), so a non-GET request to
	// one gets no write-ahead audit row: it is public, and would let anyone add rows without limit.
	Inert bool
}

// Routes lists EVERY route. A reader finds any URL here.
func (h *Handlers) Routes() []Route {
	return []Route{
		// Probes: no auth, for Heroku and uptime monitors.
		{Pattern: "GET /healthz", Role: auth.Public, Handle: h.healthz, Probe: true},
		{Pattern: "GET /readyz", Role: auth.Public, Handle: h.readyz, Probe: true},

		// Pages.
		{Pattern: "GET /{$}", Role: auth.Viewer, Handle: h.dashboard},
		{Pattern: "GET /dashboard/live", Role: auth.Viewer, Handle: h.dashboardLive, Page: "/"},
		{Pattern: "GET /backups", Role: auth.Viewer, Handle: h.backupList},
		{Pattern: "GET /backups/table", Role: auth.Viewer, Handle: h.backupTable, Page: "/backups"},
		{Pattern: "POST /backups", Role: auth.Operator, Handle: h.backupCreate},
		{Pattern: "GET /backups/{id}", Role: auth.Viewer, Handle: h.backupDetail},
		{Pattern: "GET /backups/{id}/summary", Role: auth.Viewer, Handle: h.backupSummary, Page: "/backups/{id}"},
		{Pattern: "GET /backups/{id}/download", Role: auth.Admin, Handle: h.backupDownload},
		{Pattern: "GET /backups/{id}/delete", Role: auth.Admin, Handle: h.backupDeleteConfirm},
		{Pattern: "POST /backups/{id}/delete", Role: auth.Admin, Handle: h.backupDeletePage},
		// Verification, restore and upload (issue 4).
		{Pattern: "GET /backups/{id}/activity", Role: auth.Viewer, Handle: h.backupActivity, Page: "/backups/{id}"},
		{Pattern: "POST /backups/{id}/verify", Role: auth.Operator, Handle: h.backupVerify},
		{Pattern: "GET /backups/{id}/recover", Role: auth.Operator, Handle: h.recoverPage},
		{Pattern: "POST /backups/{id}/recover", Role: auth.Operator, Handle: h.recoverPage},
		{Pattern: "GET /recoveries/{id}", Role: auth.Operator, Handle: h.recoveryPage},
		{Pattern: "POST /recoveries/{id}/undo", Role: auth.Admin, Handle: h.recoveryUndo},
		{Pattern: "GET /backups/{id}/restore", Role: auth.Admin, Handle: h.backupRestoreConfirm},
		{Pattern: "POST /backups/{id}/restore", Role: auth.Admin, Handle: h.backupRestore},
		// Cancel running work (issue 17): the row says who cancelled; audited.
		{Pattern: "POST /backups/{id}/cancel", Role: auth.Operator, Handle: h.pageCancel(jobs.WorkBackup, h.backupPage)},
		{Pattern: "POST /verifications/{id}/cancel", Role: auth.Operator, Handle: h.pageCancel(jobs.WorkVerification, h.verificationPage)},
		{Pattern: "POST /restores/{id}/cancel", Role: auth.Admin, Handle: h.pageCancel(jobs.WorkRestore, h.restorePage)},
		{Pattern: "POST /media/migrations/{id}/cancel", Role: auth.Operator, Handle: h.pageCancel(jobs.WorkMediaMigration, h.mediaPageURL)},
		{Pattern: "GET /backups/upload", Role: auth.Admin, Handle: h.backupUploadPage},
		{Pattern: "POST /backups/upload", Role: auth.Admin, Handle: h.backupUpload},

		// Alerts, e-mail log, development outbox (issue 6).
		{Pattern: "GET /alerts", Role: auth.Viewer, Handle: h.alertsPage},
		{Pattern: "POST /alerts/test-email", Role: auth.Operator, Handle: h.alertsTestEmail},
		{Pattern: "POST /alerts/{id}/acknowledge", Role: auth.Operator, Handle: h.alertAck},
		{Pattern: "GET /outbox", Role: auth.Viewer, Handle: h.outbox},

		// Schedules, health and metrics (issue 5).
		{Pattern: "GET /schedules", Role: auth.Viewer, Handle: h.scheduleList},
		{Pattern: "GET /schedules/new", Role: auth.Operator, Handle: h.scheduleNew},
		{Pattern: "GET /schedules/preview", Role: auth.Viewer, Handle: h.schedulePreview, Page: "/schedules"},
		{Pattern: "POST /schedules", Role: auth.Operator, Handle: h.scheduleSave},
		{Pattern: "GET /schedules/{id}", Role: auth.Viewer, Handle: h.scheduleEdit},
		{Pattern: "POST /schedules/{id}", Role: auth.Operator, Handle: h.scheduleSave},
		{Pattern: "POST /schedules/{id}/toggle", Role: auth.Operator, Handle: h.scheduleToggle},
		{Pattern: "POST /schedules/{id}/run", Role: auth.Operator, Handle: h.scheduleRun},
		{Pattern: "POST /schedules/{id}/delete", Role: auth.Operator, Handle: h.scheduleDelete},
		{Pattern: "GET /health", Role: auth.Viewer, Handle: h.healthPage},
		{Pattern: "POST /health/refresh", Role: auth.Operator, Handle: h.healthRefresh},
		// "Test connection" (issue 19): one group of the preflight checks, now.
		{Pattern: "POST /checks/{group}", Role: auth.Operator, Handle: h.checksRun},
		// Admin, or a scraper's Authorization: Bearer $METRICS_TOKEN (authorize admits it here only; see metrics.go).
		{Pattern: "GET /metrics", Role: auth.Admin, Handle: h.metricsPrometheus},

		// Sign-in, own account, administration (issue 3).
		{Pattern: "GET /login", Role: auth.Public, Handle: h.loginPage},
		{Pattern: "POST /login", Role: auth.Public, Handle: h.login},
		{Pattern: "POST /logout", Role: auth.Viewer, Handle: h.logout},
		{Pattern: "GET /profile", Role: auth.Viewer, Handle: h.profile},
		{Pattern: "POST /profile/alerts", Role: auth.Viewer, Handle: h.profileAlerts},
		{Pattern: "POST /profile/password", Role: auth.Viewer, Handle: h.profilePassword},
		{Pattern: "GET /admin/users", Role: auth.Admin, Handle: h.adminUsers},
		{Pattern: "POST /admin/users", Role: auth.Admin, Handle: h.adminUserCreate},
		{Pattern: "POST /admin/users/{id}/role", Role: auth.Admin, Handle: h.adminUserRole},
		{Pattern: "POST /admin/users/{id}/disable", Role: auth.Admin, Handle: h.adminUserDisable},
		{Pattern: "POST /admin/users/{id}/password", Role: auth.Admin, Handle: h.adminUserPassword},
		{Pattern: "GET /admin/tokens", Role: auth.Admin, Handle: h.adminTokens},
		{Pattern: "POST /admin/tokens", Role: auth.Admin, Handle: h.adminTokenCreate},
		{Pattern: "POST /admin/tokens/{id}/revoke", Role: auth.Admin, Handle: h.adminTokenRevoke},
		{Pattern: "GET /admin/audit", Role: auth.Admin, Handle: h.adminAudit},
		{Pattern: "GET /admin/audit.csv", Role: auth.Admin, Handle: h.adminAuditCSV},
		{Pattern: "GET /admin/jobs", Role: auth.Admin, Handle: h.adminJobsRedirect},
		{Pattern: "/admin/jobs/", Role: auth.Admin, Handle: h.adminJobs}, // River UI: its own pages and API

		// JSON API (issue 3). openapi.json is generated from these lines.
		{Pattern: "GET /api/v1/status", Role: auth.Public, Handle: h.apiStatus, Summary: "Quick liveness for uptime monitors; reveals nothing else"},
		{Pattern: "GET /api/v1/health", Role: auth.Viewer, Handle: h.apiHealth, Summary: "Backup state per kind, work in flight, open alerts, storage, configuration and the preflight checks"},
		{Pattern: "GET /api/v1/openapi.json", Role: auth.Viewer, Handle: h.openAPI, Summary: "This document"},
		{Pattern: "GET /api/v1/backups", Role: auth.Viewer, Handle: h.apiBackupList, Summary: "List backups, newest first",
			Query: []string{"kind", "status", "since", "until", "limit", "cursor"}},
		{Pattern: "POST /api/v1/backups", Role: auth.Operator, Handle: h.apiBackupCreate,
			Summary: "Start a backup (202), or get the one of that kind already running (200)", Request: BackupCreateRequest{Kind: "database"}},
		{Pattern: "GET /api/v1/backups/{id}", Role: auth.Viewer, Handle: h.apiBackupGet, Summary: "One backup"},
		{Pattern: "DELETE /api/v1/backups/{id}", Role: auth.Admin, Handle: h.apiBackupDelete,
			Summary: "Delete the stored artifact, its manifest and global objects (a full backup: its parts too); the rows are kept with pruned_at"},
		{Pattern: "GET /api/v1/backups/{id}/download", Role: auth.Admin, Handle: h.backupDownload,
			Summary: "Stream the stored (encrypted) artifact; audited"},
		{Pattern: "POST /api/v1/backups/{id}/verify", Role: auth.Operator, Handle: h.apiBackupVerify,
			Summary: "Queue a verification (checksum, archive or drill): 202 with the verification", Request: VerifyRequest{Level: "drill"}},
		{Pattern: "POST /api/v1/backups/{id}/cancel", Role: auth.Operator, Handle: h.apiCancel(jobs.WorkBackup),
			Summary: "Cancel a queued or running backup: 202 {status: cancelling|cancelled}; 409 when it already ended; audited"},
		{Pattern: "POST /api/v1/verifications/{id}/cancel", Role: auth.Operator, Handle: h.apiCancel(jobs.WorkVerification),
			Summary: "Cancel a queued or running verification (drill): its scratch database is dropped; audited"},
		{Pattern: "POST /api/v1/restores/{id}/cancel", Role: auth.Admin, Handle: h.apiCancel(jobs.WorkRestore),
			Summary: "Cancel a queued or running restore: a target database it created is dropped; audited"},
		{Pattern: "POST /api/v1/media/migrations/{id}/cancel", Role: auth.Operator, Handle: h.apiCancel(jobs.WorkMediaMigration),
			Summary: "Cancel a queued or running media migration (re-run to resume); audited"},
		{Pattern: "GET /api/v1/verifications/{id}", Role: auth.Viewer, Handle: h.apiVerificationGet,
			Summary: "One verification: status, RTO and details (a drill's per-table comparison)"},
		{Pattern: "POST /api/v1/backups/{id}/restore", Role: auth.Admin, Handle: h.apiBackupRestore,
			Summary: "Queue a restore into a new database (or an existing one named again in confirm); never the catalog or the source; audited",
			Request: RestoreRequest{TargetDB: "pis_restored", Confirm: "pis_restored"}},
		{Pattern: "POST /api/v1/backups/{id}/recoveries", Role: auth.Operator, Handle: h.apiRecoveryCreate,
			Summary: "Recover records: compare chosen rows (and with_related, rows linked by foreign keys) with the clinic database; mode sql adds the script, apply (admin, confirm = table) writes them with an undo artifact; with_media (full backups) restores the files they reference that MEDIA_ROOT lacks; audited",
			Request: recoveryExample},
		{Pattern: "GET /api/v1/recoveries/{id}", Role: auth.Operator, Handle: h.apiRecoveryGet,
			Summary: "One record recovery as recorded: mode, status, per-table counts, row keys and changed columns (no values)"},
		{Pattern: "POST /api/v1/recoveries/{id}/undo", Role: auth.Admin, Handle: h.apiRecoveryUndo,
			Summary: "Undo an applied recovery (confirm = its id): rows it inserted are deleted, rows it overwrote put back, media files it restored removed, only if all are as it left them; audited",
			Request: RecoveryUndoRequest{Confirm: "7"}},
		{Pattern: "GET /api/v1/restores/{id}", Role: auth.Admin, Handle: h.apiRestoreGet,
			Summary: "One restore: status, progress bytes, listing (dry run) or restored table counts"},
		{Pattern: "POST /api/v1/backups/upload", Role: auth.Admin, Handle: h.apiBackupUpload,
			Summary: "Upload a .dump, a .dump.zst.age (with a \"manifest\" part first), or the old system's database_backup_*.json(.gz) or full_backup_*.zip as multipart/form-data; 201 with the new backup (for a zip, the full backup whose children are its database and media parts); audited"},
		{Pattern: "GET /api/v1/schedules", Role: auth.Viewer, Handle: h.apiScheduleList, Summary: "List schedules with their next five runs"},
		{Pattern: "POST /api/v1/schedules", Role: auth.Operator, Handle: h.apiScheduleSave,
			Summary: "Create a schedule (201); 422 names the bad field; ?dry_run=true validates and previews without saving", Request: scheduleExample, Query: []string{"dry_run"}},
		{Pattern: "GET /api/v1/schedules/{id}", Role: auth.Viewer, Handle: h.apiScheduleGet, Summary: "One schedule with its next five runs"},
		{Pattern: "PUT /api/v1/schedules/{id}", Role: auth.Operator, Handle: h.apiScheduleSave,
			Summary: "Replace a schedule; takes effect at the scheduler's next tick; ?dry_run=true returns the next runs and what the policy would delete now, saving nothing", Request: scheduleExample, Query: []string{"dry_run"}},
		{Pattern: "DELETE /api/v1/schedules/{id}", Role: auth.Operator, Handle: h.apiScheduleDelete, Summary: "Delete a schedule; its backups are kept"},
		{Pattern: "POST /api/v1/schedules/{id}/toggle", Role: auth.Operator, Handle: h.apiScheduleToggle, Summary: "Pause or resume a schedule"},
		{Pattern: "POST /api/v1/schedules/{id}/run", Role: auth.Operator, Handle: h.apiScheduleRun,
			Summary: "Run now: 202 with the new backup, or 200 with the one of that kind already running"},
		{Pattern: "POST /api/v1/checks/{group}", Role: auth.Operator, Handle: h.apiChecksRun,
			Summary: "Run one group of the preflight checks now (source, storage, sendgrid, cloudinary, catalog, restore, age): each check with its one-line answer"},
		{Pattern: "GET /api/v1/metrics", Role: auth.Viewer, Handle: h.apiMetrics,
			Summary: "One health metric's series, oldest first (omit metric for the list of names in the 422)", Query: []string{"metric", "since"}},
		{Pattern: "GET /api/v1/alerts", Role: auth.Viewer, Handle: h.apiAlerts,
			Summary: "Alerts, open first, then recently resolved", Query: []string{"state", "limit"}},
		{Pattern: "POST /api/v1/alerts/{id}/acknowledge", Role: auth.Operator, Handle: h.apiAlertAck,
			Summary: "Acknowledge an open alert: reminders stop, it stays open until its cause is gone (audited)"},
		{Pattern: "GET /api/v1/email/status", Role: auth.Viewer, Handle: h.apiEmailStatus,
			Summary: "Whether alert e-mail is configured, reaches anyone, and is being delivered"},
		{Pattern: "POST /api/v1/email/test", Role: auth.Operator, Handle: h.apiEmailTest,
			Summary: "Send a test e-mail through the alert path (202)", Request: EmailTestRequest{Email: "staff@example.org"}},

		// Media migration to Cloudinary (issue 7).
		{Pattern: "GET /media", Role: auth.Viewer, Handle: h.mediaPage},
		{Pattern: "GET /media/live", Role: auth.Viewer, Handle: h.mediaLive, Page: "/media"},
		{Pattern: "POST /media/migrations", Role: auth.Operator, Handle: h.mediaStart},
		{Pattern: "GET /media/mapping.json", Role: auth.Operator, Handle: h.mediaMappingJSON},
		{Pattern: "GET /media/mapping.csv", Role: auth.Operator, Handle: h.mediaMappingCSV},
		{Pattern: "GET /api/v1/media/migrations", Role: auth.Viewer, Handle: h.apiMediaMigrationList,
			Summary: "Media migration runs, newest first", Query: []string{"limit"}},
		{Pattern: "POST /api/v1/media/migrations", Role: auth.Operator, Handle: h.apiMediaMigrationStart,
			Summary: "Start a media migration (202); 409 while one is queued or running",
			Request: MediaMigrationStartRequest{DryRun: true, Concurrency: 4}},
		{Pattern: "GET /api/v1/media/migrations/{id}", Role: auth.Viewer, Handle: h.apiMediaMigrationGet,
			Summary: "One media migration run with its plan, outcome and failed files"},
		{Pattern: "GET /api/v1/media/mapping", Role: auth.Operator, Handle: h.apiMediaMapping,
			Summary: "Path → Cloudinary public id and URL for every verified file", Query: []string{"format"}},
		{Pattern: "GET /api/v1/media/resolvability", Role: auth.Operator, Handle: h.apiMediaResolvability,
			Summary: "Per FileField column: stored values the clinic app would not find under its Cloudinary storage"},
	}
}

// guard wraps a route with its session, its role check, the write-ahead audit row of a state-changing request
// (auditStart) and the error renderer.
func (h *Handlers) guard(rt Route) http.Handler {
	if rt.Probe {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Handle(w, r); err != nil {
				h.renderError(w, r, err)
			}
		})
	}
	upload := strings.HasSuffix(rt.Pattern, "/upload") && strings.HasPrefix(rt.Pattern, "POST ")
	return h.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !upload { // uploads are bounded by UPLOAD_MAX_BYTES in receiveUpload
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		r, err := h.authorize(w, r, rt.Role)
		var row *auditRow
		if err == nil && changesState(r.Method) && !rt.Inert {
			r, row, err = h.auditStart(r, rt.Pattern)
		}
		if err == nil {
			err = rt.Handle(w, r)
		}
		if row != nil {
			h.auditEnd(r, row, err)
		}
		if err != nil {
			h.renderError(w, r, err)
		}
	}))
}
