package app

import (
	"testing"
	"time"
)

// BenchmarkAutotuneEfficiency runs the efficiency mode once on a 4-chip
// simulated board and reports J/TH at the default clock and voltage
// (baseline) and at the point the tuner chose; hashes per watt rise by
// baseline/tuned. Run with -benchtime 1x.
func BenchmarkAutotuneEfficiency(b *testing.B) {
	for range b.N {
		b.StopTimer()
		c, _ := startTuningRig(b, "--sim-chips", "4")
		b.StartTimer()
		start := time.Now()
		v := c.runAutotune(b, `{"mode":"efficiency"}`)
		b.StopTimer()
		if v.Result == nil || v.Result.Baseline == nil {
			b.Fatalf("no result or baseline: %+v", v)
		}
		b.ReportMetric(v.Result.Baseline.JPerTH, "baseline-J/TH")
		b.ReportMetric(v.Result.JPerTH, "tuned-J/TH")
		b.ReportMetric(v.Result.Baseline.JPerTH/v.Result.JPerTH, "hash-per-watt-gain")
		b.ReportMetric(v.Result.Baseline.PowerW, "baseline-W")
		b.ReportMetric(v.Result.PowerW, "tuned-W")
		b.ReportMetric(time.Since(start).Seconds(), "tuning-s")
		if err := c.stop(); err != nil {
			b.Fatal(err)
		}
	}
}
