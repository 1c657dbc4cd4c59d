// Package static embeds the CSS, icons and the vendored htmx (copied from node_modules by `make static`) and
// serves them under content-hashed URLs with long cache lifetimes.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed css all:vendor
var files embed.FS

var (
	once   sync.Once
	hashed map[string]string // "css/app.css" -> "css/app.3f2a9c1b.css"
	byHash map[string]string // reverse
)

func index() {
	hashed, byHash = map[string]string{}, map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		b, _ := files.ReadFile(p)
		sum := sha256.Sum256(b)
		ext := path.Ext(p)
		h := strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		hashed[p], byHash[h] = h, p
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
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + orig
		fsrv.ServeHTTP(w, r2)
	}))
}
