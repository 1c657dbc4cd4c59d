package handlers

import (
	"net/http"
	"os"
	"strings"

	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/views"
)

// testableGroups are the "Test connection" buttons: each runs one group of `pisbackup preflight`'s checks
// (preflight.RunGroup; there is no second implementation) and answers in one line per check.
var testableGroups = []views.CheckGroupVM{
	{Name: "source", Label: "Source database"},
	{Name: "storage", Label: "Storage"},
	{Name: "sendgrid", Label: "SendGrid"},
	{Name: "cloudinary", Label: "Cloudinary"},
}

// runChecks runs one preflight group with the server's environment (the preflight monitor's, else one
// built from the handlers' dependencies). An unknown group is a 404 naming the known ones.
func (h *Handlers) runChecks(r *http.Request) (string, []preflight.Check, error) {
	group := r.PathValue("group")
	env := preflight.Env{Cfg: h.Cfg, Catalog: h.Pool, Store: h.Store, Getenv: os.Getenv}
	if h.Preflight != nil {
		env = h.Preflight.Env()
	}
	checks, ok := preflight.RunGroup(r.Context(), env, group)
	if !ok {
		return group, nil, Errorf(CodeNotFound, "no check group %q; one of: %s", group, strings.Join(preflight.GroupNames(), ", "))
	}
	h.audit(r, "checks.run", "checks:"+group, nil)
	return group, checks, nil
}

// checksRun is a "Test connection" button: HTMX swaps the lines in beside the button; without JavaScript the
// lines come as a page of their own.
func (h *Handlers) checksRun(w http.ResponseWriter, r *http.Request) error {
	group, checks, err := h.runChecks(r)
	if err != nil {
		return err
	}
	vm := views.CheckResultVM{Group: group, Lines: checkLines(checks)}
	if isHTMX(r) {
		return views.CheckResult(vm).Render(r.Context(), w)
	}
	vm.Chrome = h.chrome(r, "Test connection", "health")
	return views.CheckResultPage(vm).Render(r.Context(), w)
}

// apiChecksRun is POST /api/v1/checks/{group}: the checks as JSON, each with its one-line summary.
func (h *Handlers) apiChecksRun(w http.ResponseWriter, r *http.Request) error {
	group, checks, err := h.runChecks(r)
	if err != nil {
		return err
	}
	ok := true
	for _, c := range checks {
		ok = ok && c.OK
	}
	lines := checkLines(checks)
	out := make([]map[string]any, len(checks))
	for i, c := range checks {
		out[i] = map[string]any{"check": c, "line": lines[i].Text}
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": group, "ok": ok, "checks": out})
	return nil
}

// checkLines is each check as the one line `pisbackup preflight` prints.
func checkLines(checks []preflight.Check) []views.CheckLineVM {
	out := make([]views.CheckLineVM, len(checks))
	for i, c := range checks {
		out[i] = views.CheckLineVM{OK: c.OK, Skipped: c.Skipped, Text: c.Line()}
	}
	return out
}
