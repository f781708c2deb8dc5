package webui

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthNeedsNoAuth(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	h.clock.Advance(90 * time.Second)
	resp, body := h.do(t, nil, request{path: "/api/v1/health"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	want := map[string]any{"status": "ok", "version": "v0.1.0-test", "uptime_s": 90.0}
	if diff := cmp.Diff(want, decodeObject(t, body)); diff != "" {
		t.Errorf("health body (-want +got):\n%s", diff)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	for _, r := range []request{
		{path: "/api/v1/health"},
		{path: "/api/v1/summary"},   // 401
		admin("/api/v1/summary"),    // 200
		{path: "/api/v1/nope"},      // 404
		{method: "POST", path: "/"}, // 405
		{path: "/static/app.js"},    // asset
		admin("/"),                  // page
	} {
		resp, _ := h.do(t, nil, r)
		for k, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": contentSecurityPolicy,
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", r.method, r.path, k, got, want)
			}
		}
	}
	if !strings.HasPrefix(contentSecurityPolicy, "default-src 'self';") ||
		strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Errorf("CSP %q must allow only 'self'", contentSecurityPolicy)
	}
}

func TestSummary(t *testing.T) {
	last := time.Date(2026, 3, 1, 11, 59, 30, 0, time.UTC)
	st := &fakeStatus{summary: Summary{
		Accepted: 120, Rejected: 3, Stale: 2, HWErrors: 1,
		Hashrate5s: 1.5e6, Hashrate: 1.25e6, Hashrate15m: 1.2e6,
		ActivePool: "stratum+tcp://pool.example:3333", Difficulty: 1024, BestShare: 98765.5,
		UptimeS: 3600, Board: "cpu", Units: 4, LastShare: &last,
	}}
	h := newHarness(t, st)
	resp, body := h.do(t, nil, admin("/api/v1/summary"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	// The JSON names are a contract with outside tools: compare the raw keys.
	want := map[string]any{
		"accepted": 120.0, "rejected": 3.0, "stale": 2.0, "hw_errors": 1.0,
		"hashrate_5s_hs": 1.5e6, "hashrate_hs": 1.25e6, "hashrate_15m_hs": 1.2e6,
		"active_pool": "stratum+tcp://pool.example:3333", "difficulty": 1024.0,
		"best_share": 98765.5, "uptime_s": 3600.0, "board": "cpu", "units": 4.0,
		"last_share": "2026-03-01T11:59:30Z",
	}
	if diff := cmp.Diff(want, decodeObject(t, body)); diff != "" {
		t.Errorf("summary body (-want +got):\n%s", diff)
	}
}

func TestSummaryOmitsMissingLastShareAndNonFinite(t *testing.T) {
	st := &fakeStatus{summary: Summary{Hashrate: math.NaN(), Hashrate5s: math.Inf(1), Difficulty: 8}}
	h := newHarness(t, st)
	resp, body := h.do(t, nil, admin("/api/v1/summary"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	m := decodeObject(t, body)
	if _, ok := m["last_share"]; ok {
		t.Errorf("last_share present without a share: %s", body)
	}
	for _, k := range []string{"accepted", "rejected", "stale", "hw_errors", "hashrate_hs", "active_pool"} {
		if _, ok := m[k]; !ok {
			t.Errorf("contract key %q missing: %s", k, body)
		}
	}
	if m["hashrate_hs"] != 0.0 || m["hashrate_5s_hs"] != 0.0 || m["difficulty"] != 8.0 {
		t.Errorf("non-finite values not mapped to 0: %s", body)
	}
}

func TestPools(t *testing.T) {
	last := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	st := &fakeStatus{pools: []Pool{
		{Priority: 0, URL: "stratum+tcp://a.example:3333", User: "bc1q.worker", Status: "active",
			Enabled: true, Active: true, Difficulty: 512, Accepted: 10, Stale: 1, Rejected: 2,
			RejectedByReason: map[string]uint64{"low difficulty": 2}, LastShare: &last,
			LatencyMS: 42.5, VersionRolling: true},
		{Priority: 1, URL: "stratum+tcp://b.example:3333", User: "backup", Status: "dead",
			LastError: "dial tcp: connection refused"},
	}}
	h := newHarness(t, st)
	resp, body := h.do(t, nil, admin("/api/v1/pools"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	var got []map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("pools body %s: %v", body, err)
	}
	want := []map[string]any{
		{"priority": 0.0, "url": "stratum+tcp://a.example:3333", "user": "bc1q.worker", "enabled": true,
			"status": "active", "active": true, "difficulty": 512.0, "accepted": 10.0,
			"stale": 1.0, "rejected": 2.0, "rejected_by_reason": map[string]any{"low difficulty": 2.0},
			"last_share": "2026-03-01T11:00:00Z", "latency_ms": 42.5, "version_rolling": true},
		{"priority": 1.0, "url": "stratum+tcp://b.example:3333", "user": "backup", "enabled": false,
			"status": "dead", "active": false, "difficulty": 0.0, "accepted": 0.0,
			"stale": 0.0, "rejected": 0.0, "rejected_by_reason": map[string]any{},
			"latency_ms": 0.0, "version_rolling": false, "last_error": "dial tcp: connection refused"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pools body (-want +got):\n%s", diff)
	}
	if st.pools[1].RejectedByReason != nil {
		t.Error("handler modified the Status's pools")
	}
}

func TestPoolsEmptyIsArray(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	resp, body := h.do(t, nil, admin("/api/v1/pools"))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("got %d %s, want 200 []", resp.StatusCode, body)
	}
}

func TestNoStatusWired(t *testing.T) {
	h := newHarness(t, nil)
	for _, p := range []string{"/api/v1/summary", "/api/v1/pools"} {
		resp, body := h.do(t, nil, admin(p))
		wantJSONError(t, resp, body, http.StatusServiceUnavailable, "mining status not available")
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	tests := []struct {
		name   string
		req    request
		status int
		msg    string
		allow  string
	}{
		{name: "unknown api route", req: request{path: "/api/v1/nope"}, status: 404, msg: "not found"},
		{name: "unknown api route with auth", req: admin("/api/v2/summary"), status: 404, msg: "not found"},
		{name: "trailing slash", req: admin("/api/v1/summary/"), status: 404, msg: "not found"},
		{name: "unknown asset", req: request{path: "/static/nope.js"}, status: 404, msg: "not found"},
		{name: "post summary", req: request{method: "POST", path: "/api/v1/summary"},
			status: 405, msg: "method not allowed", allow: "GET"},
		{name: "delete health", req: request{method: "DELETE", path: "/api/v1/health"},
			status: 405, msg: "method not allowed", allow: "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(t, nil, tc.req)
			wantJSONError(t, resp, body, tc.status, tc.msg)
			if tc.allow != "" && resp.Header.Get("Allow") != tc.allow {
				t.Errorf("Allow = %q, want %q", resp.Header.Get("Allow"), tc.allow)
			}
		})
	}
}

func TestPanicBecomes500AndServerKeepsServing(t *testing.T) {
	h := newHarness(t, &fakeStatus{panicMsg: "core exploded"})
	for range 2 {
		resp, body := h.do(t, nil, admin("/api/v1/summary"))
		wantJSONError(t, resp, body, http.StatusInternalServerError, internalMessage)
		if strings.Contains(string(body), "exploded") {
			t.Errorf("panic value leaked to the client: %s", body)
		}
	}
	resp, body := h.do(t, nil, admin("/api/v1/pools"))
	wantJSONError(t, resp, body, http.StatusInternalServerError, internalMessage)

	resp, body = h.do(t, nil, request{path: "/api/v1/health"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health after panic: %d %s", resp.StatusCode, body)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "handler panic") || !strings.Contains(logs, "core exploded") ||
		!strings.Contains(logs, "path=/api/v1/summary") {
		t.Errorf("panic not logged with its cause; logs:\n%s", logs)
	}
}
