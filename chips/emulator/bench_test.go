package emulator

import (
	"testing"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

// BenchmarkStep measures the real hashing speed of the emulator's walk for
// one BM1366 alone on its chain (every scanned nonce is its own) and for
// the middle chip of three (the kernel's runs also cover the neighbours'
// chip-field bit, which is discarded).
func BenchmarkStep(b *testing.B) {
	for _, tc := range []struct {
		name  string
		chips int
	}{{"lone", 1}, {"middle-of-3", 3}} {
		b.Run(tc.name, func(b *testing.B) {
			m := bm13xx.BM1366
			c, err := New(Config{Model: m, Chips: tc.chips})
			if err != nil {
				b.Fatal(err)
			}
			feed(c, bm13xx.ChainInactive())
			for _, a := range bm13xx.Addresses(tc.chips) {
				feed(c, bm13xx.SetAddress(a))
			}
			feed(c, bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)))
			job, _ := testJob(&testing.T{}, m, 0x08, 1)
			c.handleFrame(bm13xx.EncodeJob(m, job))
			c.mu.Lock()
			defer c.mu.Unlock()
			ch := c.chips[tc.chips/2]
			start := time.Now()
			for b.Loop() {
				c.prepare(ch)
				c.step(ch)
			}
			b.ReportMetric(float64(ch.hashes)/time.Since(start).Seconds()/1e6, "MH/s")
		})
	}
}
