package webui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

// ui holds the status page and the files it loads. Everything the page
// needs is here: no fonts, scripts or styles from elsewhere.
//
//go:embed ui/index.html ui/static
var ui embed.FS

// contentTypes is set explicitly rather than read from the system MIME
// tables, which differ between hosts.
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json; charset=utf-8",
}

// asset is one embedded static file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// loadAssets reads the embedded page and static files once, at New.
func loadAssets(log *slog.Logger) (index []byte, assets map[string]asset) {
	index, err := ui.ReadFile("ui/index.html")
	if err != nil {
		log.Error("embedded status page missing", "err", err)
	}
	assets = make(map[string]asset)
	entries, err := ui.ReadDir("ui/static")
	if err != nil {
		log.Error("embedded static files missing", "err", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := fs.ReadFile(ui, "ui/static/"+e.Name())
		if err != nil {
			log.Error("embedded static file unreadable", "file", e.Name(), "err", err)
			continue
		}
		ct, ok := contentTypes[path.Ext(e.Name())]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		assets[e.Name()] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return index, assets
}

// page serves the status page.
func (s *Server) page(c *gin.Context) error {
	if s.index == nil {
		return errorf(http.StatusNotFound, "not found")
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", s.index)
	return nil
}

// asset serves GET /static/:name. Assets hold no secrets, so they need no
// login; browsers revalidate them with their ETag after a firmware upgrade.
func (s *Server) asset(c *gin.Context) error {
	a, ok := s.assets[c.Param("name")]
	if !ok {
		return errorf(http.StatusNotFound, "not found")
	}
	c.Header("Cache-Control", "no-cache")
	c.Header("ETag", a.etag)
	if c.GetHeader("If-None-Match") == a.etag {
		c.Status(http.StatusNotModified)
		return nil
	}
	c.Data(http.StatusOK, a.contentType, a.body)
	return nil
}
