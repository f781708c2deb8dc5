package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/chips/emulator"
)

// ErrRange reports a setting outside what the simulated part accepts.
var ErrRange = errors.New("sim: value out of range")

// MaxVoltage is the highest core voltage the simulated regulators accept.
const MaxVoltage = 2 * physic.Volt

// RPMPerPercent is the fan's tachometer reading per percent of duty.
const RPMPerPercent = 60

// DefaultFanDuty is the duty the fan starts at, in percent: the airflow at
// which the emulators' heat coefficient is nominal.
const DefaultFanDuty = 50

// tempSensor reads the hottest chip of a chain.
type tempSensor struct{ emu *emulator.Chain }

// Temperature returns the hottest die temperature of the chain.
func (s tempSensor) Temperature() (physic.Temperature, error) {
	hot := math.Inf(-1)
	for _, st := range s.emu.Chips() {
		hot = max(hot, st.TemperatureC)
	}
	return physic.ZeroCelsius + physic.Temperature(math.Round(hot*float64(physic.Celsius))), nil
}

// regulator is a chain's core supply.
type regulator struct {
	emu *emulator.Chain
	mu  sync.Mutex
	v   physic.ElectricPotential
}

// newRegulator returns a regulator already at mv millivolts.
func newRegulator(emu *emulator.Chain, mv float64) *regulator {
	r := &regulator{emu: emu, v: physic.ElectricPotential(math.Round(mv)) * physic.MilliVolt}
	emu.SetVoltage(mv)
	return r
}

// SetVoltage sets the chain's core voltage, 0–MaxVoltage.
func (r *regulator) SetVoltage(v physic.ElectricPotential) error {
	if v < 0 || v > MaxVoltage {
		return fmt.Errorf("sim: set voltage %s: want 0–%s: %w", v, MaxVoltage, ErrRange)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.v = v
	r.emu.SetVoltage(float64(v) / float64(physic.MilliVolt))
	return nil
}

// Voltage returns the voltage last set.
func (r *regulator) Voltage() (physic.ElectricPotential, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.v, nil
}

// fan is the board fan: its airflow cools every chain.
type fan struct {
	b    *Board
	mu   sync.Mutex
	duty float64
	rng  *rand.Rand
}

// newFan returns a fan at DefaultFanDuty.
func newFan(b *Board, seed int64) *fan {
	f := &fan{b: b, rng: rand.New(rand.NewPCG(uint64(seed), 0x66616e))}
	f.SetDuty(DefaultFanDuty)
	return f
}

// CoolingFactor returns the emulators' heat-coefficient factor at a duty
// in percent: 1.5 with the fan stopped, 1 at DefaultFanDuty, 0.5 at full
// speed.
func CoolingFactor(duty float64) float64 { return 1.5 - duty/100 }

// SetDuty sets the PWM duty in percent, 0–100.
func (f *fan) SetDuty(percent float64) error {
	if !(percent >= 0 && percent <= 100) {
		return fmt.Errorf("sim: fan duty %v%%: want 0–100: %w", percent, ErrRange)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.duty = percent
	for _, ch := range f.b.chains {
		ch.emu.SetCooling(CoolingFactor(percent))
	}
	return nil
}

// RPM reads the tachometer: RPMPerPercent per percent of duty, with ±1 %
// noise; a stopped fan reads 0.
func (f *fan) RPM() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	nominal := f.duty * RPMPerPercent
	if nominal == 0 {
		return 0, nil
	}
	return int(math.Round(nominal * (1 + 0.02*(f.rng.Float64()-0.5)))), nil
}
