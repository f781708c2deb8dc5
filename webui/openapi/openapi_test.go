package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// httpMethods are the keys of a Path Item that hold operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// decode parses Document into generic JSON values.
func decode(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(Document()))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json has data after the document")
	}
	return doc
}

// object returns v[key] as a JSON object, failing the test otherwise.
func object(t *testing.T, v any, path ...string) map[string]any {
	t.Helper()
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: parent is %T, not an object", strings.Join(path, "."), v)
		}
		v = m[key]
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, not an object", strings.Join(path, "."), v)
	}
	return m
}

// operation is one method of one path.
type operation struct {
	method, path string
	op           map[string]any
}

func operations(t *testing.T, doc map[string]any) []operation {
	t.Helper()
	var ops []operation
	for path, item := range object(t, doc, "paths") {
		for _, method := range httpMethods {
			if op, ok := item.(map[string]any)[method]; ok {
				ops = append(ops, operation{method: method, path: path, op: op.(map[string]any)})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		return ops[i].path+" "+ops[i].method < ops[j].path+" "+ops[j].method
	})
	return ops
}

func TestDocumentHeader(t *testing.T) {
	doc := decode(t)
	version, _ := doc["openapi"].(string)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(version) {
		t.Errorf("openapi = %q, want 3.1.x", version)
	}
	if title := object(t, doc, "info")["title"]; title != "Kiln controller API" {
		t.Errorf("info.title = %v", title)
	}
	if v, _ := object(t, doc, "info")["version"].(string); v == "" {
		t.Error("info.version is empty")
	}
}

func TestDocumentIsACopy(t *testing.T) {
	a := Document()
	a[0] = 'X'
	if b := Document(); b[0] != '{' {
		t.Errorf("changing one Document result changed the next one: starts with %q", b[0])
	}
}

func TestSecuritySchemes(t *testing.T) {
	doc := decode(t)
	schemes := object(t, doc, "components", "securitySchemes")
	want := map[string]map[string]any{
		"basicAuth":  {"type": "http", "scheme": "basic"},
		"bearerAuth": {"type": "http", "scheme": "bearer"},
		"cookieAuth": {"type": "apiKey", "in": "cookie", "name": "kiln_session"},
	}
	for name, fields := range want {
		s := object(t, schemes, name)
		for k, v := range fields {
			if s[k] != v {
				t.Errorf("securitySchemes.%s.%s = %v, want %v", name, k, s[k], v)
			}
		}
	}
	global, _ := doc["security"].([]any)
	var names []string
	for _, req := range global {
		for name := range req.(map[string]any) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"basicAuth", "bearerAuth", "cookieAuth"}, names); diff != "" {
		t.Errorf("global security (-want +got):\n%s", diff)
	}
	csrf := object(t, doc, "components", "parameters", "CSRFToken")
	if csrf["name"] != "X-CSRF-Token" || csrf["in"] != "header" {
		t.Errorf("CSRFToken parameter = %v, want header X-CSRF-Token", csrf)
	}
}

func TestEveryOperationIsComplete(t *testing.T) {
	doc := decode(t)
	ops := operations(t, doc)
	if len(ops) < 30 {
		t.Fatalf("document has %d operations, want every route of the API", len(ops))
	}
	ids := map[string]string{}
	for _, o := range ops {
		name := strings.ToUpper(o.method) + " " + o.path
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", name)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q already used by %s", name, id, prev)
		}
		ids[id] = name
		responses, _ := o.op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s: no responses", name)
		}
		success := false
		for code := range responses {
			success = success || strings.HasPrefix(code, "2")
		}
		if !success {
			t.Errorf("%s: no 2xx response", name)
		}
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", name)
		}
	}
}

// TestPublicRoutes checks which operations need no authentication, and
// that every other one documents 401 and 403 and, when unsafe, the CSRF
// header.
func TestPublicRoutes(t *testing.T) {
	doc := decode(t)
	want := []string{
		"GET /", "GET /api/v1/health", "GET /api/v1/openapi.json", "GET /api/v1/setup",
		"GET /static/{name}", "POST /api/v1/login", "POST /api/v1/setup",
	}
	var public []string
	for _, o := range operations(t, doc) {
		name := strings.ToUpper(o.method) + " " + o.path
		sec, has := o.op["security"]
		if has {
			if list, ok := sec.([]any); !ok || len(list) != 0 {
				t.Errorf("%s: security = %v, want [] or absent", name, sec)
			}
			public = append(public, name)
			continue
		}
		responses := o.op["responses"].(map[string]any)
		for _, code := range []string{"401", "403"} {
			if _, ok := responses[code]; !ok {
				t.Errorf("%s: authenticated but no %s response", name, code)
			}
		}
		if o.method != "get" && !hasParamRef(o.op, "#/components/parameters/CSRFToken") {
			t.Errorf("%s: unsafe and authenticated but does not document X-CSRF-Token", name)
		}
	}
	sort.Strings(public)
	if diff := cmp.Diff(want, public); diff != "" {
		t.Errorf("public operations (-want +got):\n%s", diff)
	}
}

func hasParamRef(op map[string]any, ref string) bool {
	params, _ := op["parameters"].([]any)
	return slices.ContainsFunc(params, func(p any) bool {
		m, ok := p.(map[string]any)
		return ok && m["$ref"] == ref
	})
}

// TestPathParameters checks that every {name} in a path template is
// declared as a required path parameter of each of its operations, and
// that no operation declares a path parameter its path lacks.
func TestPathParameters(t *testing.T) {
	doc := decode(t)
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range operations(t, doc) {
		name := strings.ToUpper(o.method) + " " + o.path
		var want []string
		for _, m := range tmpl.FindAllStringSubmatch(o.path, -1) {
			want = append(want, m[1])
		}
		var got []string
		params, _ := o.op["parameters"].([]any)
		for _, p := range params {
			pm := resolve(t, doc, p)
			if pm["in"] != "path" {
				continue
			}
			if pm["required"] != true {
				t.Errorf("%s: path parameter %v is not required", name, pm["name"])
			}
			got = append(got, fmt.Sprint(pm["name"]))
		}
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: path parameters (-template +declared):\n%s", name, diff)
		}
	}
}

// resolve follows v's $ref, if any, and returns the object it names.
func resolve(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("expected an object, got %T", v)
	}
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, err := pointer(doc, ref)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok = target.(map[string]any); !ok {
			t.Fatalf("%s is %T, not an object", ref, target)
		}
	}
	t.Fatal("$ref chain longer than 8")
	return nil
}

// pointer resolves a local reference ("#/a/b") in doc.
func pointer(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local to the document", ref)
	}
	var cur any = doc
	for tok := range strings.SplitSeq(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is inside a %T", ref, tok, cur)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// refs returns every $ref value in v.
func refs(v any, depth int) []string {
	if depth > 100 {
		return []string{"<nesting too deep>"}
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["$ref"].(string); ok {
			out = append(out, s)
		}
		for _, child := range v {
			out = append(out, refs(child, depth+1)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, refs(child, depth+1)...)
		}
	}
	return out
}

func TestEveryRefResolves(t *testing.T) {
	doc := decode(t)
	all := refs(doc, 0)
	if len(all) < 50 {
		t.Fatalf("only %d $refs found; the walk is broken", len(all))
	}
	used := map[string]bool{}
	for _, ref := range all {
		if _, err := pointer(doc, ref); err != nil {
			t.Error(err)
		}
		used[ref] = true
	}
	// Every component is used somewhere: an orphan is usually a typo in
	// a $ref that happens to name something else.
	for _, kind := range []string{"schemas", "parameters", "responses"} {
		for name := range object(t, doc, "components", kind) {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never referenced", ref)
			}
		}
	}
}

func TestPointerRejectsBadRefs(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b/c": "x", "list": []any{1}}}
	for _, ref := range []string{"#/a/missing", "other.json#/a", "#/a/list/0"} {
		if _, err := pointer(doc, ref); err == nil {
			t.Errorf("pointer(%q) succeeded, want an error", ref)
		}
	}
	if v, err := pointer(doc, "#/a/b~1c"); err != nil || v != "x" {
		t.Errorf("pointer(#/a/b~1c) = %v, %v; want x", v, err)
	}
}

func TestRequiredSchemas(t *testing.T) {
	doc := decode(t)
	schemas := object(t, doc, "components", "schemas")
	for _, name := range []string{"Summary", "Pool", "PoolSetting", "PoolTest", "Board", "Chain", "Chip",
		"Fan", "FanSetting", "BoardTuning", "Tuning", "SystemInfo", "Event", "ShareRecord",
		"ConfigDocument", "Token", "Error"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("components.schemas.%s missing", name)
		}
	}
	inner := object(t, schemas, "Error", "properties", "error", "properties")
	for _, field := range []string{"code", "message"} {
		if _, ok := inner[field]; !ok {
			t.Errorf("Error.error.%s missing", field)
		}
	}
}

// TestRequiredNamesAreProperties catches a "required" entry that names no
// property, the usual trace of a renamed field.
func TestRequiredNamesAreProperties(t *testing.T) {
	doc := decode(t)
	var check func(path string, v any, depth int)
	check = func(path string, v any, depth int) {
		if depth > 100 {
			t.Fatalf("%s: nesting too deep", path)
		}
		switch v := v.(type) {
		case map[string]any:
			if req, ok := v["required"].([]any); ok {
				props, _ := v["properties"].(map[string]any)
				for _, r := range req {
					if _, ok := props[fmt.Sprint(r)]; !ok {
						t.Errorf("%s: required %v is not a property", path, r)
					}
				}
			}
			for k, child := range v {
				check(path+"/"+k, child, depth+1)
			}
		case []any:
			for i, child := range v {
				check(fmt.Sprintf("%s/%d", path, i), child, depth+1)
			}
		}
	}
	check("#/components/schemas", object(t, doc, "components", "schemas"), 0)
}
