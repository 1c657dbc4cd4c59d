package cloudinarytest

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sign is Cloudinary's signature: every parameter except file, cloud_name, resource_type and api_key, sorted,
// joined as k=v with '&' (a '&' inside a value escaped as %26), then SHA-1 of that plus the secret.
func Sign(params map[string]string, secret string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		switch k {
		case "file", "cloud_name", "resource_type", "api_key", "signature":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + strings.ReplaceAll(params[k], "&", "%26"))
	}
	sum := sha1.Sum([]byte(b.String() + secret))
	return hex.EncodeToString(sum[:])
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, rtype string) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		writeJSON(w, 400, errBody("bad multipart body: "+err.Error()))
		return
	}
	params := map[string]string{}
	for k, v := range r.MultipartForm.Value {
		params[k] = v[0]
	}
	if params["api_key"] != s.Key {
		writeJSON(w, 401, errBody("Invalid api_key "+params["api_key"]))
		return
	}
	if ts, err := strconv.ParseInt(params["timestamp"], 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Hour {
		writeJSON(w, 401, errBody("Stale request - reported time is too old"))
		return
	}
	if want := Sign(params, s.Secret); params["signature"] != want {
		writeJSON(w, 401, errBody("Invalid Signature "+params["signature"]+". String to sign - ..."))
		return
	}
	fh, _, err := r.FormFile("file")
	if err != nil {
		writeJSON(w, 400, errBody("Missing required parameter - file"))
		return
	}
	data, _ := io.ReadAll(fh)
	s.Lock()
	defer s.Unlock()
	if s.Throttle > 0 {
		s.Throttle--
		w.Header().Set("Retry-After", s.RetryAfter)
		writeJSON(w, 429, errBody("Rate Limit Exceeded"))
		return
	}
	if s.FailAfter > 0 && s.total >= s.FailAfter {
		writeJSON(w, 500, errBody("General Error"))
		return
	}
	pid := params["public_id"]
	if pid == "" {
		writeJSON(w, 400, errBody("public_id required by this fake"))
		return
	}
	filename := r.MultipartForm.File["file"][0].Filename
	if rtype == "auto" {
		rtype = detect(params["public_id"], filename)
	}
	format := strings.ToLower(strings.TrimPrefix(path.Ext(filename), "."))
	switch {
	case rtype != "image" && rtype != "video" && rtype != "raw":
		writeJSON(w, 400, errBody("Invalid resource type "+rtype))
		return
	case (rtype == "image" || rtype == "video") && !deliverable(rtype, format):
		// Cloudinary refuses a file it cannot read as the asked type ("Invalid image file").
		writeJSON(w, 400, errBody("Invalid "+rtype+" file"))
		return
	case strings.ContainsAny(pid, `?#\%<>`) || strings.TrimSpace(pid) != pid || strings.HasSuffix(pid, "/"):
		writeJSON(w, 400, errBody("Invalid public_id "+pid))
		return
	case rtype == "raw":
		format = "" // a raw public id carries its extension; Cloudinary reports no format
	}
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	if s.BadEtag {
		etag = strings.Repeat("0", 32)
	}
	s.version++
	var tags []string
	if t := params["tags"]; t != "" {
		tags = strings.Split(t, ",")
	}
	a := &Asset{PublicID: pid, ResourceType: rtype, Format: format, Version: s.version, Data: data, Etag: etag, Tags: tags}
	s.Assets[rtype+"/"+pid] = a
	s.Uploads[pid]++
	s.total++
	writeJSON(w, 200, s.resource(a, true))
}

// imageFormats and videoFormats are formats Cloudinary reads as image or video assets (a subset is enough
// for tests; PDF is an image in Cloudinary).
var (
	imageFormats = map[string]bool{"jpg": true, "jpeg": true, "png": true, "gif": true, "webp": true, "bmp": true,
		"tif": true, "tiff": true, "ico": true, "svg": true, "pdf": true, "heic": true, "avif": true}
	videoFormats = map[string]bool{"mp4": true, "mov": true, "webm": true, "avi": true, "mkv": true, "mp3": true, "wav": true}
)

func deliverable(rtype, format string) bool {
	if rtype == "image" {
		return imageFormats[format]
	}
	return videoFormats[format]
}

func detect(publicID, filename string) string {
	switch strings.ToLower(path.Ext(filename)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".webp", ".pdf", ".svg":
		return "image"
	case ".mp4", ".mov", ".webm", ".mp3":
		return "video"
	}
	return "raw"
}
