package metrics

import (
	"bytes"
	"log/slog"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kilnfw/kiln/webui"
)

// FuzzCollect feeds strings that come from pools and boards (URL, reject
// reason, status, chain state, board kind) and odd numbers through the
// collector: every scrape must gather without error and encode to text
// that parses back.
func FuzzCollect(f *testing.F) {
	f.Add(poolA, "duplicate", "active", "mining", "sim", 45.0, 61.5)
	f.Add("", "", "", "", "", 0.0, 0.0)
	f.Add("stratum+tcp://h\xff:1", "low\ndifficulty\"", "flapping", "lost", "bitaxe-gamma", math.NaN(), math.Inf(1))
	f.Add(poolA, "x", "active", "active", "a\x00b", -1.0, -273.0)
	f.Fuzz(func(t *testing.T, url, reason, status, state, kind string, latency, temp float64) {
		src := fullSource()
		src.pools[0].URL, src.pools[1].URL = url, url
		src.pools[0].RejectedByReason = map[string]uint64{reason: 1, "": 2}
		src.pools[0].Status, src.pools[0].LatencyMS = status, latency
		src.boards[0].Kind = kind
		src.boards[0].Chains[0].State = state
		src.boards[0].Chains[0].TemperatureC = temp
		src.boards[0].Chains[0].Chips[0].TemperatureC = temp
		src.fans = []webui.Fan{{Index: 0, Percent: temp}}

		reg := prometheus.NewRegistry()
		reg.MustRegister(newCollector(src, url, slog.New(slog.DiscardHandler)))
		fams, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range fams {
			if err := enc.Encode(mf); err != nil {
				t.Fatalf("encode %s: %v", mf.GetName(), err)
			}
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(&buf); err != nil {
			t.Fatalf("parse own output: %v", err)
		}
	})
}
