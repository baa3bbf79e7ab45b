package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/trainwatch/trainwatch/internal/web"
)

//go:embed static
var embedded embed.FS

// asset is one embedded file, ready to serve: its bytes, gzipped bytes
// (when smaller) and a strong ETag.
type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

// assets holds every embedded file by URL path ("/app.js").
type assets map[string]*asset

// loadAssets reads the embedded files once and compresses them, so a page
// load costs no compression work.
func loadAssets(fsys fs.FS) (assets, error) {
	out := assets{}
	// One compressor for every file: each new one allocates about 1 MiB.
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("reading embedded %s: %w", p, err)
		}
		a := &asset{body: b, contentType: contentType(p)}
		sum := sha256.Sum256(b)
		a.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
		var buf bytes.Buffer
		zw.Reset(&buf)
		_, _ = zw.Write(b)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compressing %s: %w", p, err)
		}
		if buf.Len() < len(b) {
			a.gz = buf.Bytes()
		}
		out["/"+p] = a
		return nil
	})
	return out, err
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case "":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// contentSecurityPolicy allows the dashboard's own scripts, styles and API
// only: no inline scripts, no outside requests.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// ServeHTTP serves the file at the request's path ("/" is index.html).
// Files are revalidated with their ETag on every load (they change with
// the binary); a matching If-None-Match costs a 304.
func (as assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" "+r.URL.Path+": the dashboard's files are read-only (GET)", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" || p == "" {
		p = "/index.html"
	}
	a, ok := as[p]
	if !ok {
		http.Error(w, fmt.Sprintf("%s: not found (the dashboard is at /, its API under /api/)", r.URL.Path), http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	// Headers the web configuration file sets (http_server_config) win.
	for k, v := range map[string]string{"Content-Security-Policy": contentSecurityPolicy, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && web.AcceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}
