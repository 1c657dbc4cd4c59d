package handlers

import (
	"net/http"
	"net/url"
	"strings"
)

// notFound answers every URL no route matches, in the caller's language: the JSON error envelope under
// /api/, the styled error page otherwise (never Go's plain-text "404 page not found").
func (h *Handlers) notFound(http.ResponseWriter, *http.Request) error {
	return Errorf(CodeNotFound, "page not found: check the address, or start again from the dashboard")
}

// pageOf maps a local URL (already passed through safeNext) to what a browser should land on after signing
// in: the URL itself, or for an HTMX fragment (a route with Page set) the full page it belongs to, keeping
// the query. "/backups/8/summary" → "/backups/8"; "/dashboard/live" → "/".
func (h *Handlers) pageOf(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return "/"
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for _, rt := range h.Routes() {
		if rt.Page == "" {
			continue
		}
		_, pattern, _ := strings.Cut(rt.Pattern, " ")
		params, ok := matchSegments(strings.Split(strings.Trim(pattern, "/"), "/"), segs)
		if !ok {
			continue
		}
		page := rt.Page
		for name, v := range params {
			page = strings.ReplaceAll(page, "{"+name+"}", url.PathEscape(v))
		}
		if u.RawQuery != "" {
			page += "?" + u.RawQuery
		}
		return page
	}
	return next
}

// matchSegments matches path segments against a ServeMux pattern's segments ("{id}" matches one segment).
func matchSegments(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			params[strings.Trim(p, "{}")] = segs[i]
		} else if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// returnPath is where a browser goes back to after signing in: for an HTMX request the page it is showing
// (HX-Current-URL), since the request's own URL is a fragment; for a GET its URL; otherwise the dashboard.
func returnPath(r *http.Request) string {
	if isHTMX(r) {
		if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && u.Path != "" {
			return (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String()
		}
	}
	if r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	return "/"
}
