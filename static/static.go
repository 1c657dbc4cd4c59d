// Package static embeds the CSS, icons and the vendored htmx (copied from node_modules by `make static`) and
// serves them under content-hashed URLs with long cache lifetimes.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed css all:vendor
var files embed.FS

var (
	once   sync.Once
	hashed map[string]string // "css/app.css" -> "css/app.3f2a9c1b.css"
	byHash map[string]string // reverse
	// gzipped holds the gzip encoding of each text file ("css/app.css", "vendor/htmx.min.js": htmx is ~50 KB
	// as sent, ~16 KB gzipped), made once at start-up.
	gzipped map[string][]byte
)

func index() {
	hashed, byHash, gzipped = map[string]string{}, map[string]string{}, map[string][]byte{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		b, _ := files.ReadFile(p)
		sum := sha256.Sum256(b)
		ext := path.Ext(p)
		h := strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		hashed[p], byHash[h] = h, p
		switch ext {
		case ".js", ".css", ".svg", ".json", ".map":
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(b)
			_ = zw.Close()
			gzipped[p] = buf.Bytes()
		}
		return nil
	})
}

// URL returns the hashed URL of an embedded file ("/static/css/app.3f2a9c1b.css"). Unknown names return the
// plain path so a missing file shows up as a 404 rather than a panic.
func URL(name string) string {
	once.Do(index)
	if h, ok := hashed[name]; ok {
		return "/static/" + h
	}
	return "/static/" + name
}

// Has reports whether name is embedded (htmx is missing when the npm step was skipped).
func Has(name string) bool {
	once.Do(index)
	_, ok := hashed[name]
	return ok
}

// Handler serves /static/<hashed name> with a year-long immutable cache header.
func Handler() http.Handler {
	once.Do(index)
	fsrv := http.FileServerFS(files)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig, ok := byHash[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		if gz, ok := gzipped[orig]; ok {
			w.Header().Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				if ct := mime.TypeByExtension(path.Ext(orig)); ct != "" {
					w.Header().Set("Content-Type", ct)
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Length", strconv.Itoa(len(gz)))
				if r.Method != http.MethodHead {
					_, _ = w.Write(gz)
				}
				return
			}
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + orig
		fsrv.ServeHTTP(w, r2)
	}))
}

// acceptsGzip reads an Accept-Encoding header (RFC 9110 §12.5.3): gzip listed without q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
