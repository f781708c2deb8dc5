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

func TestBoards(t *testing.T) {
	last := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	st := &fakeStatus{boards: []Board{{
		Index: 0, Kind: "sim", Model: "BM1366", HashrateHS: 4.2e6,
		Chains: []Chain{{
			Index: 0, Serial: "/dev/pts/7", State: "mining", FrequencyMHz: 485, VoltageMV: 1200,
			TemperatureC: 58.5, ChipDifficulty: 0.25, HashrateHS: 4.2e6, CRCErrors: 1,
			Chips: []Chip{
				{Index: 0, Address: 0, FrequencyMHz: 485, VoltageMV: 1200, TemperatureC: 58.5,
					HashrateHS: math.NaN(), Nonces: 120, HWErrors: 1, HWErrorRate: 1.0 / 121,
					Responding: true, LastNonce: &last},
				{Index: 1, Address: 128, Responding: false},
			},
		}},
	}}}
	h := newHarness(t, st)
	resp, body := h.do(t, nil, admin("/api/v1/boards"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	var got []map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("boards body %s: %v", body, err)
	}
	chip0 := map[string]any{"index": 0.0, "address": 0.0, "frequency_mhz": 485.0, "voltage_mv": 1200.0,
		"temperature_c": 58.5, "hashrate_hs": 0.0, "nonces": 120.0, "hw_errors": 1.0,
		"hw_error_rate": 1.0 / 121, "responding": true, "last_nonce": "2026-03-01T11:00:00Z"}
	chip1 := map[string]any{"index": 1.0, "address": 128.0, "frequency_mhz": 0.0, "voltage_mv": 0.0,
		"temperature_c": 0.0, "hashrate_hs": 0.0, "nonces": 0.0, "hw_errors": 0.0,
		"hw_error_rate": 0.0, "responding": false}
	want := []map[string]any{{
		"index": 0.0, "kind": "sim", "model": "BM1366", "hashrate_hs": 4.2e6,
		"chains": []any{map[string]any{
			"index": 0.0, "serial": "/dev/pts/7", "state": "mining", "frequency_mhz": 485.0,
			"voltage_mv": 1200.0, "temperature_c": 58.5, "chip_difficulty": 0.25, "hashrate_hs": 4.2e6,
			"crc_errors": 1.0, "stale_nonces": 0.0, "hw_errors": 0.0, "reinits": 0.0,
			"chips": []any{chip0, chip1},
		}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("boards body (-want +got):\n%s", diff)
	}
}

func TestBoardsNeedAuthAndDefaultToEmpty(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	if resp, _ := h.do(t, nil, request{path: "/api/v1/boards"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("boards without auth: %d, want 401", resp.StatusCode)
	}
	resp, body := h.do(t, nil, admin("/api/v1/boards"))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("got %d %s, want 200 []", resp.StatusCode, body)
	}
}
