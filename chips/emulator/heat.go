package emulator

import (
	"math"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

// HeatCoefficient is k in the steady-state die temperature
// ambient + k·f·V² (f in MHz, V in volts) at nominal cooling: a BM1366 at
// 485 MHz and 1.2 V settles at 25 + 0.05·485·1.44 ≈ 60 °C in 25 °C air.
const HeatCoefficient = 0.05

// ThermalTimeConstant is the first-order lag of the die temperature: after
// a step change it covers 63 % of the way to the new steady state in this
// time.
const ThermalTimeConstant = 5 * time.Second

// undervoltSlopeMV is how far below the stable floor the core voltage must
// fall for every reported nonce to be corrupted; the extra error
// probability grows linearly up to it.
const undervoltSlopeMV = 200

// NominalVoltageMV returns the open-firmware default core voltage of a
// model in millivolts (§9 of the protocol notes): what a simulated
// regulator starts at.
func NominalVoltageMV(m bm13xx.Model) float64 {
	switch m.ID {
	case 0x1397:
		return 1400
	case 0x1368:
		return 1166
	case 0x1370:
		return 1150
	}
	return 1200
}

// MinStableVoltageMV returns the lowest core voltage at which a chip of
// model m runs cleanly at mhz: 95 % of the nominal voltage at the default
// clock, rising by 20 % of nominal for each further default clock's worth
// of frequency. Below it every 10 mV of shortfall adds 5 % to the chip's
// hardware error probability.
func MinStableVoltageMV(m bm13xx.Model, mhz float64) float64 {
	return NominalVoltageMV(m) * (0.75 + 0.2*mhz/m.DefaultMHz)
}

// errorRate returns the probability that a nonce of ch is corrupted: the
// configured rate plus the undervolt share plus the overclock share (above
// the chip's maximum stable frequency). Callers hold c.mu.
func (c *Chain) errorRate(ch *chip) float64 {
	p := c.hwRate
	if short := MinStableVoltageMV(c.cfg.Model, ch.freqMHz) - c.voltageMV; short > 0 {
		p += short / undervoltSlopeMV
	}
	p += overclockErrorRate(ch.freqMHz, ch.fmaxMHz)
	return min(p, 1)
}

// steadyC returns the temperature ch settles at under the current
// conditions: its own clock and the chain's voltage, ambient and cooling.
// A stopped chip makes no heat; a running chip without a job heats as if
// it hashed, since the heat model follows the clock alone (its power,
// ChipState.PowerW, counts as idle). Callers hold c.mu.
func (c *Chain) steadyC(ch *chip) float64 {
	if ch.stopped {
		return c.ambientC
	}
	v := c.voltageMV / 1000
	return c.ambientC + HeatCoefficient*c.cooling*ch.freqMHz*v*v
}

// advanceHeat moves ch's temperature forward to now under the conditions
// in force since its last update. Callers hold c.mu and call it before
// changing anything steadyC depends on.
func (c *Chain) advanceHeat(ch *chip, now time.Time) {
	dt := now.Sub(ch.tempAt)
	if dt <= 0 {
		return
	}
	target := c.steadyC(ch)
	ch.tempC = target + (ch.tempC-target)*math.Exp(-dt.Seconds()/ThermalTimeConstant.Seconds())
	ch.tempAt = now
}

// advanceAll advances every chip's temperature to now. Callers hold c.mu.
func (c *Chain) advanceAll() {
	now := c.now()
	for _, ch := range c.chips {
		c.advanceHeat(ch, now)
	}
}
