package emulator

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

// IdlePowerW is what a chip draws, in watts, while it does not hash: when
// it is stopped, has no job or has no clock.
const IdlePowerW = 0.1

// DynamicPowerCoefficient is Cdyn in the power a hashing chip draws,
// IdlePowerW + Cdyn·f·V² watts (f in MHz, V in volts). It is chosen so that
// a BM1366 at 485 MHz and 1.2 V draws 11 W; every model uses the same
// formula.
const DynamicPowerCoefficient = (11 - IdlePowerW) / (485 * 1.2 * 1.2)

// The hidden maximum stable frequency of a chip is drawn as
// Model.DefaultMHz × (fmaxLow + fmaxSpan·u), u uniform in [0, 1), so every
// chip runs cleanly at its default clock and some go 30 % beyond it.
const (
	fmaxLow  = 1.08
	fmaxSpan = 0.22
)

// overclockSlope sets how fast errors grow above the maximum stable
// frequency: the extra error probability is overclockSlope·(f − fmax)/fmax,
// so 5 % over gives 15 % of nonces corrupted and 33 % over gives all.
const overclockSlope = 3

// ChipPowerW returns the power in watts that a hashing chip draws at mhz
// and mv millivolts of core voltage: IdlePowerW + Cdyn·f·V².
func ChipPowerW(mhz, mv float64) float64 {
	v := mv / 1000
	return IdlePowerW + DynamicPowerCoefficient*mhz*v*v
}

// DrawMaxStableMHz returns the hidden maximum stable frequency that New
// gives chip i of a chain of model m seeded with seed: DefaultMHz × (1.08 +
// 0.22·u) with u uniform in [0, 1), drawn from seed and i alone, so a
// chip's limit does not depend on how long its chain is or on what else
// used the chain's random source.
func DrawMaxStableMHz(m bm13xx.Model, seed int64, i int) float64 {
	r := rand.New(rand.NewPCG(mix(uint64(seed)), mix(uint64(i)^0x666d6178)))
	return m.DefaultMHz * (fmaxLow + fmaxSpan*r.Float64())
}

// mix spreads the bits of x (the SplitMix64 finaliser), so that nearby
// seeds and indices give unrelated random streams.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// checkMaxStable validates Config.MaxStableMHz for a chain of n chips.
func checkMaxStable(fmax []float64, n int) error {
	if len(fmax) == 0 {
		return nil
	}
	if len(fmax) != n {
		return fmt.Errorf("emulator: %d maximum stable frequencies for %d chips", len(fmax), n)
	}
	for i, f := range fmax {
		if !(f > 0) || math.IsInf(f, 0) {
			return fmt.Errorf("emulator: maximum stable frequency %v of chip %d: want a positive number", f, i)
		}
	}
	return nil
}

// overclockErrorRate returns the extra error probability of a chip clocked
// at f whose maximum stable frequency is fmax: nothing at or below it,
// min(1, 3·(f − fmax)/fmax) above.
func overclockErrorRate(f, fmax float64) float64 {
	if f <= fmax {
		return 0
	}
	return min(1, overclockSlope*(f-fmax)/fmax)
}

// MaxStableMHz returns the hidden maximum stable frequency of chip i, 0
// when i is out of range: above it the chip's nonces are corrupted with a
// probability that grows with the overclock. It is the ground truth for
// tests and benchmarks of tuning; the controller never reads it, and must
// find each chip's limit from the hardware errors it sees.
func (c *Chain) MaxStableMHz(i int) float64 {
	if i < 0 || i >= len(c.chips) {
		return 0
	}
	return c.chips[i].fmaxMHz // set by New, never changed
}

// PowerW returns the power the chain's chips draw now, in watts: the sum
// of each chip's ChipPowerW at its own clock and the chain's core voltage,
// IdlePowerW for a chip that does not hash.
func (c *Chain) PowerW() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var w float64
	for _, ch := range c.chips {
		w += c.chipPowerW(ch)
	}
	return w
}

// chipPowerW returns what ch draws now. Callers hold c.mu.
func (c *Chain) chipPowerW(ch *chip) float64 {
	if !ch.hashing() {
		return IdlePowerW
	}
	return ChipPowerW(ch.freqMHz, c.voltageMV)
}
