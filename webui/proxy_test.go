package webui

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProxyWorkers(t *testing.T) {
	last := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	st := &fakeStatus{workers: []ProxyWorker{
		{Worker: "farm.rig1", Connections: 2, Difficulty: 4096, HashrateHS: 1.5e12, Accepted: 10,
			Rejected: 1, RejectedByReason: map[string]uint64{"duplicate": 1}, Stale: 2, LastShare: &last, FirstSeen: &last},
		{Worker: "farm.rig2"},
	}}
	h := newHarness(t, st)
	if resp, _ := h.do(t, nil, request{path: "/api/v1/proxy/workers"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without auth: %d, want 401", resp.StatusCode)
	}
	resp, body := h.do(t, nil, admin("/api/v1/proxy/workers"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got []map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"worker": "farm.rig1", "connections": 2.0, "difficulty": 4096.0, "hashrate_hs": 1.5e12, "accepted": 10.0,
			"rejected": 1.0, "rejected_by_reason": map[string]any{"duplicate": 1.0}, "stale": 2.0,
			"last_share": "2026-03-01T11:00:00Z", "first_seen": "2026-03-01T11:00:00Z"},
		{"worker": "farm.rig2", "connections": 0.0, "difficulty": 0.0, "hashrate_hs": 0.0, "accepted": 0.0,
			"rejected": 0.0, "rejected_by_reason": map[string]any{}, "stale": 0.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestProxyWorkersWhenProxyOff(t *testing.T) {
	h := newHarness(t, &fakeStatus{}) // nil workers: the proxy is not running
	resp, body := h.do(t, nil, admin("/api/v1/proxy/workers"))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d %s, want 404", resp.StatusCode, body)
	}
}
