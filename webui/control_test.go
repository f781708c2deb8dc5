package webui

import "testing"

func TestBoardLimitsAllows(t *testing.T) {
	l := BoardLimits{FrequencyMinMHz: 300, FrequencyMaxMHz: 650, VoltageMinMV: 1100, VoltageMaxMV: 1300}
	for _, tc := range []struct {
		t    BoardTuning
		want bool
	}{
		{BoardTuning{FrequencyMHz: 485, VoltageMV: 1200}, true},
		{BoardTuning{FrequencyMHz: 300, VoltageMV: 1300}, true},
		{BoardTuning{FrequencyMHz: 299, VoltageMV: 1200}, false},
		{BoardTuning{FrequencyMHz: 651, VoltageMV: 1200}, false},
		{BoardTuning{FrequencyMHz: 485, VoltageMV: 1099}, false},
		{BoardTuning{FrequencyMHz: 485, VoltageMV: 1301}, false},
	} {
		if got := l.Allows(tc.t); got != tc.want {
			t.Errorf("Allows(%+v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}
