package emulator

import (
	"math"
	"testing"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

func TestMaxStableDistribution(t *testing.T) {
	const chips = 256
	for _, m := range bm13xx.Models() {
		a := newTestChain(t, Config{Model: m, Chips: chips, Seed: 7})
		again := newTestChain(t, Config{Model: m, Chips: 8, Seed: 7})
		other := newTestChain(t, Config{Model: m, Chips: chips, Seed: 8})
		lo, hi, sum, same := math.Inf(1), math.Inf(-1), 0.0, 0
		for i := range chips {
			r := a.MaxStableMHz(i) / m.DefaultMHz
			if r < 1.08 || r >= 1.30 {
				t.Errorf("%s chip %d: fmax %.4f × default, want [1.08, 1.30)", m, i, r)
			}
			lo, hi, sum = min(lo, r), max(hi, r), sum+r
			if i < 8 && again.MaxStableMHz(i) != a.MaxStableMHz(i) {
				t.Errorf("%s chip %d: fmax %v on a chain of 8, %v on one of %d: want the same draw",
					m, i, again.MaxStableMHz(i), a.MaxStableMHz(i), chips)
			}
			if other.MaxStableMHz(i) == a.MaxStableMHz(i) {
				same++
			}
		}
		// 256 uniform draws spread over the whole range.
		if mean := sum / chips; lo > 1.11 || hi < 1.27 || math.Abs(mean-1.19) > 0.02 {
			t.Errorf("%s: fmax spans %.3f–%.3f × default, mean %.3f: want the span of 1.08–1.30, mean 1.19", m, lo, hi, mean)
		}
		if same > 0 {
			t.Errorf("%s: %d chips drew the same fmax under seeds 7 and 8", m, same)
		}
		if a.MaxStableMHz(-1) != 0 || a.MaxStableMHz(chips) != 0 {
			t.Errorf("%s: out-of-range chip has a limit", m)
		}
	}
	c := newTestChain(t, Config{Model: bm13xx.BM1366, Chips: 2, MaxStableMHz: []float64{500, 600}})
	if c.MaxStableMHz(0) != 500 || c.MaxStableMHz(1) != 600 {
		t.Errorf("override: fmax %v, %v, want 500, 600", c.MaxStableMHz(0), c.MaxStableMHz(1))
	}
	for _, bad := range [][]float64{{500}, {500, 0}, {500, math.NaN()}, {math.Inf(1), 500}, {-1, 500}} {
		if _, err := New(Config{Model: bm13xx.BM1366, Chips: 2, MaxStableMHz: bad}); err == nil {
			t.Errorf("New with MaxStableMHz %v succeeded", bad)
		}
	}
}

func TestOverclockErrorRate(t *testing.T) {
	m := bm13xx.BM1366
	pll, mhz, err := bm13xx.PLL(m, 485)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		fmax, want float64
	}{
		{"at the limit", mhz, 0.02},
		{"below the limit", mhz * 1.2, 0.02},
		{"5 % over", mhz / 1.05, 0.02 + 0.15},
		{"20 % over", mhz / 1.2, 0.02 + 0.6},
		{"far over", mhz / 1.5, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestChain(t, Config{Model: m, Chips: 1, HWErrorRate: 0.02, MaxStableMHz: []float64{tc.fmax}})
			feed(c, bm13xx.WriteAll(bm13xx.RegPLL0, pll))
			c.mu.Lock()
			got := c.errorRate(c.chips[0])
			c.mu.Unlock()
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("error rate %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOverclockCorruptsNonces hashes real work at a ticket of 1 in 16 and
// checks every reported nonce the way a host does: the share that fails is
// the configured rate at the limit, and rises by 3 × the overclock above it.
func TestOverclockCorruptsNonces(t *testing.T) {
	const (
		limit  = 0x0fffffff
		sample = 3000 // nonces per case: ±0.7 % standard error at 17 %
	)
	m := bm13xx.BM1366
	pll, mhz, err := bm13xx.PLL(m, 485)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		fmax      float64
		want, tol float64
	}{
		{"at the limit", mhz, 0.02, 0.012},
		{"5 % over", mhz / 1.05, 0.17, 0.03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestChain(t, Config{Model: m, Chips: 1, HWErrorRate: 0.02, Seed: 5, MaxStableMHz: []float64{tc.fmax}})
			feed(c,
				bm13xx.WriteAll(bm13xx.RegPLL0, pll),
				bm13xx.WriteAll(bm13xx.RegSimTicket, limit),
				bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)),
			)
			job, hdr := testJob(t, m, 0x18, 21)
			c.handleFrame(bm13xx.EncodeJob(m, job))
			var nonces, bad int
			for step := 0; nonces < sample; step++ {
				if step > 100*sample {
					t.Fatalf("%d nonces after %d steps", nonces, step)
				}
				c.mu.Lock()
				c.prepare(c.chips[0])
				c.step(c.chips[0])
				c.mu.Unlock()
				for _, r := range queued(t, c) {
					nonces++
					if _, err := checkNonce(m, r, hdr, job.Version, limit); err != nil {
						bad++
					}
				}
			}
			st := c.Chips()[0]
			if uint64(bad) != st.HWErrors || uint64(nonces) != st.Nonces {
				t.Errorf("%d of %d nonces failed on the host; chip counted %d of %d", bad, nonces, st.HWErrors, st.Nonces)
			}
			share := float64(bad) / float64(nonces)
			t.Logf("fmax %.1f MHz, clock %.1f MHz: %d of %d nonces corrupted (%.2f %%)", tc.fmax, mhz, bad, nonces, 100*share)
			if math.Abs(share-tc.want) > tc.tol {
				t.Errorf("%.2f %% of nonces corrupted, want %.0f ± %.1f %%", 100*share, 100*tc.want, 100*tc.tol)
			}
		})
	}
}

func TestPowerModel(t *testing.T) {
	if p := ChipPowerW(485, 1200); math.Abs(p-11) > 1e-9 {
		t.Errorf("BM1366 at 485 MHz, 1.2 V: %v W, want 11", p)
	}
	if p := ChipPowerW(0, 1200); p != IdlePowerW {
		t.Errorf("no clock: %v W, want %v", p, IdlePowerW)
	}
	m := bm13xx.BM1366
	c := newTestChain(t, Config{Model: m, Chips: 3})
	addrs := bm13xx.Addresses(3)
	feed(c, bm13xx.ChainInactive())
	for _, a := range addrs {
		feed(c, bm13xx.SetAddress(a))
	}
	if w := c.PowerW(); math.Abs(w-3*IdlePowerW) > 1e-9 {
		t.Errorf("no job: %v W, want %v", w, 3*IdlePowerW)
	}
	pll, mhz, _ := bm13xx.PLL(m, 485)
	slow, slowMHz, _ := bm13xx.PLL(m, 400)
	feed(c, bm13xx.WriteAll(bm13xx.RegPLL0, pll), bm13xx.WriteChip(addrs[2], bm13xx.RegPLL0, slow))
	job, _ := testJob(t, m, 0x08, 1)
	c.handleFrame(bm13xx.EncodeJob(m, job))
	check := func(name string, want ...float64) {
		t.Helper()
		var sum float64
		for i, st := range c.Chips() {
			sum += want[i]
			if math.Abs(st.PowerW-want[i]) > 1e-9 {
				t.Errorf("%s: chip %d draws %v W, want %v", name, i, st.PowerW, want[i])
			}
		}
		if w := c.PowerW(); math.Abs(w-sum) > 1e-9 {
			t.Errorf("%s: chain draws %v W, want %v", name, w, sum)
		}
	}
	full, part := ChipPowerW(mhz, 1200), ChipPowerW(slowMHz, 1200)
	check("hashing", full, full, part)
	c.StopChip(1)
	check("chip 1 stopped", full, IdlePowerW, part)
	c.SetVoltage(1100)
	check("at 1.1 V", ChipPowerW(mhz, 1100), IdlePowerW, ChipPowerW(slowMHz, 1100))
	if want := IdlePowerW + DynamicPowerCoefficient*mhz*1.1*1.1; math.Abs(ChipPowerW(mhz, 1100)-want) > 1e-9 {
		t.Errorf("ChipPowerW(%v, 1100) = %v, want Pidle + Cdyn·f·V² = %v", mhz, ChipPowerW(mhz, 1100), want)
	}
}

// TestPerChipFrequency sets one chip's clock with a write addressed to it
// over a real pseudo-terminal: only that chip changes, and it heats and
// hashes at its own clock.
func TestPerChipFrequency(t *testing.T) {
	m := bm13xx.BM1366
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	c, h := startChain(t, Config{Model: m, Chips: 3, ScaleDown: 1e7, Now: clk.Now})
	addrs := setUpMining(t, h, 3, 400, 0x000000ff)
	pll, mhz, err := bm13xx.PLL(m, 500)
	if err != nil {
		t.Fatal(err)
	}
	base, baseMHz, _ := bm13xx.PLL(m, 400)
	h.cmd(bm13xx.WriteChip(addrs[1], bm13xx.RegPLL0, pll))
	for i, a := range addrs {
		want := base
		if i == 1 {
			want = pll
		}
		h.cmd(bm13xx.ReadChip(a, bm13xx.RegPLL0))
		if got := h.collect(time.Second, 1, registers); len(got) != 1 || got[0].Value() != want || got[0].B6 != a {
			t.Errorf("PLL0 of chip %02x: %v, want %08x", a, got, want)
		}
	}
	wantMHz := []float64{baseMHz, mhz, baseMHz}
	for i, st := range c.Chips() {
		if st.FrequencyMHz != wantMHz[i] {
			t.Errorf("chip %d at %v MHz, want %v", i, st.FrequencyMHz, wantMHz[i])
		}
	}

	job, _ := testJob(t, m, 0x08, 3)
	h.send(bm13xx.EncodeJob(m, job))
	h.cmd(bm13xx.ReadChip(addrs[0], bm13xx.RegChipID)) // the job has been taken once this is answered
	h.collect(time.Second, 1, registers)
	start := c.Chips()
	runFor(t, c, clk, time.Second)
	for i, st := range c.Chips() {
		steady := DefaultAmbientC + HeatCoefficient*wantMHz[i]*1.44
		want := steady + (DefaultAmbientC-steady)*math.Exp(-1/ThermalTimeConstant.Seconds())
		if math.Abs(st.TemperatureC-want) > 0.01 {
			t.Errorf("chip %d after 1 s: %.3f °C, want %.3f", i, st.TemperatureC, want)
		}
		rate := wantMHz[i] * 1e6 * float64(m.Cores*m.SmallCores) / 1e7
		if done := st.HashesDone - start[i].HashesDone; done+maxStepCost(m) < uint64(rate) || done > uint64(rate) {
			t.Errorf("chip %d: %d hashes in 1 s, want %.0f", i, done, rate)
		}
		if math.Abs(st.PowerW-ChipPowerW(wantMHz[i], 1200)) > 1e-9 {
			t.Errorf("chip %d draws %v W, want %v", i, st.PowerW, ChipPowerW(wantMHz[i], 1200))
		}
	}
}
