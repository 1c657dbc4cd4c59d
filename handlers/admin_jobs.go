package handlers

import "net/http"

// adminJobs serves River UI under /admin/jobs/ behind the admin role. Job args are ids only (SPEC: no
// secrets in job args), and the UI is built with JobListHideArgsByDefault as a second line of defence.
func (h *Handlers) adminJobs(w http.ResponseWriter, r *http.Request) error {
	if h.RiverUI == nil {
		return Errorf(CodeNotFound, "the job UI is not running in this process")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Cancelling, retrying or deleting jobs in the UI changes state: record who did it.
		h.audit(r, "jobs."+r.Method, r.URL.Path, nil)
	}
	h.RiverUI.ServeHTTP(w, r)
	return nil
}

func (h *Handlers) adminJobsRedirect(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/admin/jobs/", http.StatusMovedPermanently)
	return nil
}
