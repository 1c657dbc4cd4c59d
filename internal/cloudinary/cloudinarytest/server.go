// Package cloudinarytest is a local Cloudinary for tests: it speaks the real wire format of the upload API
// (POST /v1_1/{cloud}/{resource_type}/upload, multipart, SHA-1 signature over the sorted parameters plus the
// API secret), the Admin API ping and resources listing (basic auth, next_cursor pagination), and delivers
// stored originals by their secure URL. The real cloudinary-go client is pointed at it through upload_prefix.
package cloudinarytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Asset is one stored original.
type Asset struct {
	PublicID     string
	ResourceType string
	Format       string
	Version      int64
	Data         []byte
	Etag         string
	Tags         []string
}

// Server is the fake. Its knobs may be changed between requests under Lock/Unlock.
type Server struct {
	*httptest.Server
	Cloud, Key, Secret string

	sync.Mutex
	Assets map[string]*Asset // by resource type + "/" + public id (image and raw assets may share a public id)
	// Uploads counts successful uploads per public id; Requests counts every request of any kind.
	Uploads  map[string]int
	Requests int
	// FailAfter, when > 0, answers 500 to every upload once that many uploads succeeded.
	FailAfter int
	// Throttle answers 429 with Retry-After: RetryAfter to the next Throttle upload requests.
	Throttle   int
	RetryAfter string
	// PageSize caps the resources listing so tests exercise next_cursor.
	PageSize int
	// BadEtag makes uploads report a wrong etag (a corrupted upload).
	BadEtag bool
	total   int
	version int64
}

// New starts a fake cloud and closes it when the test ends.
func New(t testing.TB) *Server {
	s := &Server{Cloud: "demo-cloud", Key: "123456789012345", Secret: "s3cr3t-test-secret",
		Assets: map[string]*Asset{}, Uploads: map[string]int{}, PageSize: 10, version: 1700000000}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// CloudinaryURL is a CLOUDINARY_URL pointing the real client at this server (upload_prefix).
func (s *Server) CloudinaryURL() string {
	return fmt.Sprintf("cloudinary://%s:%s@%s?upload_prefix=%s", s.Key, s.Secret, s.Cloud, s.Server.URL)
}

// UploadCount is the number of successful uploads of all public ids.
func (s *Server) UploadCount() int {
	s.Lock()
	defer s.Unlock()
	return s.total
}

// RequestCount is the number of requests of any kind so far.
func (s *Server) RequestCount() int {
	s.Lock()
	defer s.Unlock()
	return s.Requests
}

// UploadsOf is how many times publicID was uploaded successfully (any resource type).
func (s *Server) UploadsOf(publicID string) int {
	s.Lock()
	defer s.Unlock()
	return s.Uploads[publicID]
}

// Asset returns the stored asset of a resource type and public id, or nil.
func (s *Server) Asset(resourceType, publicID string) *Asset {
	s.Lock()
	defer s.Unlock()
	return s.Assets[resourceType+"/"+publicID]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Lock()
	s.Requests++
	s.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "v1_1" && parts[1] == s.Cloud && parts[3] == "upload" && r.Method == http.MethodPost:
		s.upload(w, r, parts[2])
	case len(parts) == 3 && parts[0] == "v1_1" && parts[1] == s.Cloud && parts[2] == "ping":
		if s.admin(w, r) {
			writeJSON(w, 200, map[string]string{"status": "ok"})
		}
	case len(parts) >= 4 && parts[0] == "v1_1" && parts[1] == s.Cloud && parts[2] == "resources":
		if s.admin(w, r) {
			s.list(w, r, parts[3])
		}
	case len(parts) >= 4 && parts[0] == s.Cloud && parts[2] == "upload" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.deliver(w, r, parts[1])
	default:
		writeJSON(w, 404, errBody("Resource not found - "+r.URL.Path))
	}
}

func (s *Server) admin(w http.ResponseWriter, r *http.Request) bool {
	k, sec, ok := r.BasicAuth()
	if !ok || k != s.Key || sec != s.Secret {
		writeJSON(w, 401, errBody("Invalid credentials"))
		return false
	}
	return true
}

func (s *Server) secureURL(a *Asset) string {
	u := fmt.Sprintf("%s/%s/%s/upload/v%d/%s", s.Server.URL, s.Cloud, a.ResourceType, a.Version, a.PublicID)
	if a.ResourceType != "raw" && a.Format != "" {
		u += "." + a.Format
	}
	return u
}

func (s *Server) resource(a *Asset, upload bool) map[string]any {
	m := map[string]any{"public_id": a.PublicID, "resource_type": a.ResourceType, "format": a.Format,
		"version": a.Version, "type": "upload", "bytes": len(a.Data), "secure_url": s.secureURL(a),
		"url": strings.Replace(s.secureURL(a), "https:", "http:", 1), "created_at": time.Now().UTC().Format(time.RFC3339)}
	if upload {
		m["etag"], m["signature"], m["overwritten"] = a.Etag, "x", false
	}
	return m
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, rtype string) {
	s.Lock()
	defer s.Unlock()
	var ids []string
	for id, a := range s.Assets {
		if a.ResourceType == rtype {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	start := 0
	if c := r.URL.Query().Get("next_cursor"); c != "" {
		start, _ = strconv.Atoi(c)
	}
	n := s.PageSize
	if mr, _ := strconv.Atoi(r.URL.Query().Get("max_results")); mr > 0 && mr < n {
		n = mr
	}
	end := min(start+n, len(ids))
	res := []map[string]any{}
	for _, id := range ids[min(start, len(ids)):end] {
		res = append(res, s.resource(s.Assets[id], false))
	}
	body := map[string]any{"resources": res}
	if end < len(ids) {
		body["next_cursor"] = strconv.Itoa(end)
	}
	writeJSON(w, 200, body)
}

// deliver serves /<cloud>/<type>/upload/[v<version>/]<public id>[.<format>] the way Cloudinary resolves it:
// the path is percent-decoded; for image and video the last extension is the delivery format and the rest
// the public id (an asset stored in another format is converted, so any known format answers); for raw
// the whole rest is the public id. Anything else is 404, as Cloudinary answers.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, rtype string) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/"+s.Cloud+"/"+rtype+"/upload/")
	if first, after, ok := strings.Cut(rest, "/"); ok && len(first) > 1 && first[0] == 'v' && strings.Trim(first[1:], "0123456789") == "" {
		rest = after
	}
	name, err := url.PathUnescape(rest)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	s.Lock()
	defer s.Unlock()
	var a *Asset
	switch rtype {
	case "raw":
		a = s.Assets["raw/"+name]
	case "image", "video":
		if ext := path.Ext(name); ext != "" {
			a = s.Assets[rtype+"/"+strings.TrimSuffix(name, ext)]
			if a != nil && !deliverable(rtype, strings.ToLower(ext[1:])) {
				a = nil
			}
		} else {
			a = s.Assets[rtype+"/"+name]
		}
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.Header().Set("ETag", `"`+a.Etag+`"`)
	if r.Method == http.MethodGet {
		_, _ = w.Write(a.Data)
	}
}

func errBody(msg string) map[string]any {
	return map[string]any{"error": map[string]string{"message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
