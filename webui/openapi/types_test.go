package openapi_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/webui"
	"github.com/kilnfw/kiln/webui/openapi"
)

// schema is the part of a JSON Schema the comparison reads.
type schema struct {
	Type       any               `json:"type"`
	Ref        string            `json:"$ref"`
	Properties map[string]schema `json:"properties"`
	Required   []string          `json:"required"`
}

// field is one JSON field of a Go type.
type field struct {
	typ       reflect.Type
	omitEmpty bool
}

// jsonFields lists the JSON fields of struct type t as encoding/json
// sees them, embedded structs flattened.
func jsonFields(t reflect.Type) map[string]field {
	out := map[string]field{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = field{typ: f.Type, omitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

// jsonType is the JSON Schema type that encoding/json produces for t.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return "string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "object"
	}
}

// TestSchemasMatchGoTypes checks that each component schema describes the
// JSON the Go type of package webui produces: the same property names, a
// matching type for each, and only non-omitempty fields required.
func TestSchemasMatchGoTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		t.Fatalf("parse document: %v", err)
	}
	types := map[string]reflect.Type{
		"Summary":           reflect.TypeFor[webui.Summary](),
		"Pool":              reflect.TypeFor[webui.Pool](),
		"PoolSetting":       reflect.TypeFor[webui.PoolSetting](),
		"PoolTest":          reflect.TypeFor[webui.PoolTest](),
		"Board":             reflect.TypeFor[webui.Board](),
		"Chain":             reflect.TypeFor[webui.Chain](),
		"Chip":              reflect.TypeFor[webui.Chip](),
		"Fan":               reflect.TypeFor[webui.Fan](),
		"FanSetting":        reflect.TypeFor[webui.FanSetting](),
		"BoardTuning":       reflect.TypeFor[webui.BoardTuning](),
		"BoardLimits":       reflect.TypeFor[webui.BoardLimits](),
		"BoardTuningStatus": reflect.TypeFor[webui.BoardTuningStatus](),
		"Tuning":            reflect.TypeFor[webui.Tuning](),
		"SystemInfo":        reflect.TypeFor[webui.SystemInfo](),
		"ProxyWorker":       reflect.TypeFor[webui.ProxyWorker](),
		"Event":             reflect.TypeFor[webui.EventView](),
		"ShareRecord":       reflect.TypeFor[webui.ShareView](),
		"HistorySample":     reflect.TypeFor[webui.HistorySample](),
		"Token":             reflect.TypeFor[webui.TokenView](),
		"NewToken":          reflect.TypeFor[webui.TokenView](),
		"ConfigDocument":    reflect.TypeFor[webui.ConfigDocument](),
		"BoardConfigEntry":  reflect.TypeFor[webui.BoardConfigEntry](),
		"StreamStatus":      reflect.TypeFor[webui.StreamStatus](),
	}
	// alwaysSet lists omitempty fields that a schema may still require,
	// because the handler that sends it always fills them in.
	alwaysSet := map[string][]string{"NewToken": {"token"}}
	for name, typ := range types {
		t.Run(name, func(t *testing.T) {
			s, ok := doc.Components.Schemas[name]
			if !ok {
				t.Fatalf("components.schemas.%s missing", name)
			}
			fields := jsonFields(typ)
			var want, got []string
			for k := range fields {
				want = append(want, k)
			}
			for k := range s.Properties {
				got = append(got, k)
			}
			sort.Strings(want)
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("properties (-Go +schema):\n%s", diff)
			}
			for k, f := range fields {
				p := s.Properties[k]
				wantType := jsonType(f.typ)
				switch {
				case p.Ref != "":
					if wantType != "object" {
						t.Errorf("%s: schema is a $ref to an object, Go encodes %s", k, wantType)
					}
				case p.Type != wantType:
					t.Errorf("%s: schema type %v, Go encodes %s", k, p.Type, wantType)
				}
			}
			for _, r := range s.Required {
				if fields[r].omitEmpty && !slices.Contains(alwaysSet[name], r) {
					t.Errorf("%s is required but the Go field is omitempty", r)
				}
			}
		})
	}
}
