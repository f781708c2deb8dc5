package cgminer

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      request
		code      int
	}{
		{"text", "summary", request{cmd: "summary"}, 0},
		{"text with parameter", "switchpool|1", request{cmd: "switchpool", param: "1", hasParam: true}, 0},
		{"text splits at the first bar", "addpool|a|b,c,d", request{cmd: "addpool", param: "a|b,c,d", hasParam: true}, 0},
		{"text empty parameter", "pools|", request{cmd: "pools"}, 0},
		{"text blanks", " devs \r", request{cmd: "devs"}, 0},
		{"empty", "", request{}, 0},
		{"JSON", `{"command":"summary"}`, request{cmd: "summary", json: true}, 0},
		{"JSON string parameter", `{"command":"switchpool","parameter":"2"}`,
			request{cmd: "switchpool", param: "2", hasParam: true, json: true}, 0},
		{"JSON integer parameter", `{"command":"switchpool","parameter":2}`,
			request{cmd: "switchpool", param: "2", hasParam: true, json: true}, 0},
		{"JSON real parameter", `{"command":"x","parameter":1.25}`,
			request{cmd: "x", param: "1.25", hasParam: true, json: true}, 0},
		{"JSON null parameter", `{"command":"x","parameter":null}`, request{cmd: "x", json: true}, 0},
		{"JSON object parameter", `{"command":"x","parameter":{}}`, request{cmd: "x", json: true}, 0},
		{"JSON extra keys", `{"command":"stats","new_api":true}`, request{cmd: "stats", json: true}, 0},
		{"JSON leading blanks", " \n{\"command\":\"pools\"}", request{cmd: "pools", json: true}, 0},
		{"bad JSON", `{"command":`, request{json: true}, codeInvalidJSON},
		{"JSON array", `{`, request{json: true}, codeInvalidJSON},
		{"missing command", `{"cmd":"summary"}`, request{json: true}, codeMissingCommand},
		{"number command", `{"command":1}`, request{json: true}, codeInvalidCommand},
		{"null command", `{"command":null}`, request{json: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, code := parseRequest([]byte(tc.raw))
			if code != tc.code {
				t.Errorf("code %d, want %d", code, tc.code)
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(request{})); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
		})
	}
}

func TestSplitEscaped(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a,b,c", []string{"a", "b", "c"}},
		{`a\,b,c`, []string{"a,b", "c"}},
		{`a\\,b`, []string{`a\`, "b"}},
		{`a,b,`, []string{"a", "b", ""}},
		{`trailing\`, []string{`trailing\`}},
		{"", []string{""}},
	} {
		if got := splitEscaped(tc.in); !cmp.Equal(got, tc.want) {
			t.Errorf("splitEscaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJoinedNames(t *testing.T) {
	got := joinedNames("summary+ devs++summary+pools+")
	if want := []string{"summary", "devs", "pools"}; !cmp.Equal(got, want) {
		t.Errorf("joinedNames = %q, want %q", got, want)
	}
}

var requestSeeds = []string{
	"summary", "pools|", "switchpool|1", "addpool|stratum+tcp://a:1,u,p", `addpool|a\,b,c\\,d`,
	"poolpriority|2,0,1", "summary+devs+pools", "check|addpool", "quit", "restart", "estats|old",
	`{"command":"summary"}`, `{"command":"switchpool","parameter":1}`, `{"command":"switchpool","parameter":"1"}`,
	`{"command":"devs+pools"}`, `{"command":`, `{"parameter":"1"}`, `{"command":5}`, `{"command":"x","parameter":[1]}`,
	"\x00", "{\"command\":\"pools\"}\x00junk", "\xff\xfe|\xff",
}

// FuzzParseRequest checks that any bytes parse without panicking into a
// request whose form matches the first byte.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, code := parseRequest(raw)
		if req.json != isJSON(raw) {
			t.Fatalf("json = %v for %q", req.json, raw)
		}
		if code != 0 && !req.json {
			t.Fatalf("text request got code %d", code)
		}
		if req.hasParam != (req.param != "") {
			t.Fatalf("hasParam %v with param %q", req.hasParam, req.param)
		}
		if !req.json && strings.Contains(req.cmd, "|") {
			t.Fatalf("text command %q contains the separator", req.cmd)
		}
		if end, done := requestEnd(raw); done && end > len(raw) {
			t.Fatalf("requestEnd %d past %d bytes", end, len(raw))
		}
	})
}

// FuzzAnswer runs any request through every command, with write access,
// and checks the reply: one closing NUL, and valid JSON for JSON requests.
func FuzzAnswer(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s), true)
	}
	f.Add([]byte("addpool|x,y,z"), false)
	f.Fuzz(func(t *testing.T, raw []byte, demo bool) {
		b := newFixture()
		if demo {
			b.settings = nil
		}
		s, err := New(Config{Backend: b, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := s.answer(context.Background(), raw, levelWrite, netip.MustParseAddr("127.0.0.1"))
		if len(out) < 2 || out[len(out)-1] != 0 || bytes.IndexByte(out[:len(out)-1], 0) >= 0 {
			t.Fatalf("reply %q does not end with its only NUL", out)
		}
		if isJSON(raw) && !json.Valid(out[:len(out)-1]) {
			t.Fatalf("JSON request %q got invalid JSON %q", raw, out)
		}
		if len(b.savedPools()) == 0 && !demo {
			t.Fatalf("request %q removed every pool", raw)
		}
	})
}
