package webui

import (
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestStatusPage(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	resp, body := h.do(t, nil, admin("/"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	page := string(body)
	// Ids a browser test will read.
	for _, id := range []string{"hashrate", "hashrate-5s", "hashrate-15m", "accepted", "rejected",
		"stale", "hw-errors", "active-pool", "difficulty", "uptime", "pools", "pools-body", "conn-status"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("page lacks id=%q", id)
		}
	}
	// Under the CSP, inline script would not run: every script has a src.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, `src="/static/`) {
			t.Errorf("inline or foreign script: %s", tag)
		}
	}
	if strings.Contains(page, "style=") || strings.Contains(page, "<style") {
		t.Error("inline style would be blocked by the CSP")
	}
}

func TestStaticAssets(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	tests := []struct{ path, contentType, contains string }{
		{"/static/app.js", "text/javascript; charset=utf-8", "/api/v1/summary"},
		{"/static/style.css", "text/css; charset=utf-8", "font-family"},
		{"/static/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := h.do(t, nil, request{path: tc.path}) // no login needed
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			etag := resp.Header.Get("ETag")
			if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
			}
			resp, body = h.do(t, nil, request{path: tc.path, header: map[string]string{"If-None-Match": etag}})
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("revalidation: %d with %d bytes, want 304 empty", resp.StatusCode, len(body))
			}
		})
	}
}

// TestPageIsSelfContained checks that the page loads nothing from another
// origin and that every element the script looks up exists in the page.
func TestPageIsSelfContained(t *testing.T) {
	page, err := ui.ReadFile("ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"index.html": page}
	entries, err := ui.ReadDir("ui/static")
	if err != nil {
		t.Fatal(err)
	}
	var js []byte
	for _, e := range entries {
		b, err := ui.ReadFile("ui/static/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(e.Name(), ".js"):
			js = append(js, b...)
			files[e.Name()] = b
		case strings.HasSuffix(e.Name(), ".css"):
			files[e.Name()] = b
		}
	}
	if len(files) < 4 {
		t.Fatalf("only %d page files embedded", len(files))
	}
	for name, b := range files {
		for _, bad := range []string{"http://", "https://", "//fonts.", "@import", "url("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s references %q: the page must load only its own files", name, bad)
			}
		}
	}
	var used []string
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`byId\("([a-z0-9-]+)"\)`),
		regexp.MustCompile(`setText\("([a-z0-9-]+)"`),
	} {
		for _, m := range re.FindAllStringSubmatch(string(js), -1) {
			used = append(used, m[1])
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %d element lookups in the scripts: %v", len(used), used)
	}
	slices.Sort(used)
	for _, id := range slices.Compact(used) {
		if !strings.Contains(string(page), `id="`+id+`"`) {
			t.Errorf("the scripts use id %q, which index.html lacks", id)
		}
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		name, ok := strings.CutPrefix(ref[1], "/static/")
		if _, found := loadAssetsForTest(t)[name]; !ok || !found {
			t.Errorf("page links %q, which is not an embedded asset", ref[1])
		}
	}
}

func loadAssetsForTest(t *testing.T) map[string]asset {
	t.Helper()
	_, assets := loadAssets(slog.New(slog.DiscardHandler))
	return assets
}
