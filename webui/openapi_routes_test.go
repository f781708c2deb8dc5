package webui

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kilnfw/kiln/webui/openapi"
)

// TestOpenAPICoversEveryRoute: the served document lists exactly the
// server's routes, with the same methods, and marks exactly the public ones
// as needing no security.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := New(Config{Status: &fakeStatus{}, Metrics: http.NotFoundHandler(), CheckPassword: func(string) bool { return false }})
	var doc struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	want := map[string]bool{} // "GET /api/v1/x" → public
	for _, r := range s.publicRoutes() {
		want[r.method+" "+param.ReplaceAllString(r.path, "{$1}")] = true
	}
	for _, r := range s.authedRoutes() {
		want[r.method+" "+param.ReplaceAllString(r.path, "{$1}")] = false
	}
	got := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if strings.HasPrefix(method, "x-") || method == "parameters" {
				continue
			}
			got[strings.ToUpper(method)+" "+path] = op.Security != nil && len(*op.Security) == 0
		}
	}
	var missing, extra, wrong []string
	for k, public := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != public:
			wrong = append(wrong, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(wrong)
	if len(missing)+len(extra)+len(wrong) > 0 {
		t.Errorf("OpenAPI document and routes differ:\nnot documented: %v\nno such route: %v\npublic/secured mismatch: %v", missing, extra, wrong)
	}
	if len(want) < 30 {
		t.Errorf("only %d routes: the route lists look wrong", len(want))
	}
}

// TestOpenAPIServed: the document is served without login.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	resp, body := h.do(t, nil, request{path: "/api/v1/openapi.json"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"openapi"`) {
		t.Fatalf("GET /api/v1/openapi.json: %d %.100s", resp.StatusCode, body)
	}
}
