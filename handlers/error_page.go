package handlers

import (
	"net/http"

	"github.com/uscpis/pisbackup/views"
)

func (h *Handlers) renderErrorPage(w http.ResponseWriter, r *http.Request, e *Error) {
	c := h.chrome(r, "Error", "")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status(e.Code))
	_ = views.ErrorPage(c, status(e.Code), e.Message).Render(r.Context(), w)
}
