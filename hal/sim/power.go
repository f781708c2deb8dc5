package sim

import (
	"fmt"
	"math"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

// FanWattsPerPercent is what the fan draws per percent of PWM duty, in
// watts: 2 W at full speed.
const FanWattsPerPercent = 0.02

// ControlBoardW is what the control board itself draws, in watts, whatever
// the hash chains do.
const ControlBoardW = 1.5

// powerMeter reads a power computed by a function, in watts.
type powerMeter func() float64

// Power returns the power drawn now.
func (p powerMeter) Power() (physic.Power, error) {
	return physic.Power(math.Round(p() * float64(physic.Watt))), nil
}

// PowerW returns the board's input power now, in watts: every chain's
// chips (emulator.Chain.PowerW), the fan (FanWattsPerPercent per percent
// of duty) and the control board (ControlBoardW).
func (b *Board) PowerW() float64 {
	w := ControlBoardW + b.fan.powerW()
	for _, ch := range b.chains {
		w += ch.emu.PowerW()
	}
	return w
}

// PowerMeter returns a meter of the whole board's input power (PowerW),
// what a power supply's telemetry would report.
func (b *Board) PowerMeter() hal.PowerMeter { return powerMeter(b.PowerW) }

// ChainPowerMeter returns a meter of chain i's core supply (its chips
// alone); nil when i is out of range.
func (b *Board) ChainPowerMeter(i int) hal.PowerMeter {
	if i < 0 || i >= len(b.chains) {
		return nil
	}
	return powerMeter(b.chains[i].emu.PowerW)
}

// SetAmbient sets the air temperature around every chain, in °C, from
// -40 to 60; an overheat fault adds OverheatRiseC to it for its chain.
func (b *Board) SetAmbient(celsius float64) error {
	if !(celsius >= -40 && celsius <= 60) {
		return fmt.Errorf("sim: ambient %v °C: want -40–60: %w", celsius, ErrRange)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ambientC = celsius
	for _, ch := range b.chains {
		b.applyAmbient(ch)
	}
	return nil
}

// applyAmbient gives chain ch its air temperature. Callers hold b.mu.
func (b *Board) applyAmbient(ch *chain) {
	t := b.ambientC
	if ch.overheat {
		t += OverheatRiseC
	}
	ch.emu.SetAmbient(t)
}
