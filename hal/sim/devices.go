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

// ErrSensor reports a temperature sensor that gives no reading (the
// sensor_failure fault).
var ErrSensor = errors.New("sim: temperature sensor failed")

// tempSensor reads the hottest chip of a chain.
type tempSensor struct {
	ch    *chain
	index int
}

// Temperature returns the hottest die temperature of the chain, or an
// error wrapping ErrSensor while a sensor_failure fault is injected.
func (s tempSensor) Temperature() (physic.Temperature, error) {
	if s.ch.sensorFailed.Load() {
		return 0, fmt.Errorf("sim: chain %d temperature: %w", s.index, ErrSensor)
	}
	hot := math.Inf(-1)
	for _, st := range s.ch.emu.Chips() {
		hot = max(hot, st.TemperatureC)
	}
	return physic.ZeroCelsius + physic.Temperature(math.Round(hot*float64(physic.Celsius))), nil
}

// sagFactor is the share of its setpoint a sagging regulator delivers.
const sagFactor = 0.85

// regulator is a chain's core supply.
type regulator struct {
	emu *emulator.Chain
	mu  sync.Mutex
	v   physic.ElectricPotential // the setpoint
	sag bool
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
	r.apply()
	return nil
}

// Voltage returns the voltage the chips get: the setpoint, or
// sagFactor of it during a voltage_sag fault.
func (r *regulator) Voltage() (physic.ElectricPotential, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.actual(), nil
}

// setSag starts or ends a voltage sag.
func (r *regulator) setSag(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sag = on
	r.apply()
}

// actual returns the delivered voltage. Callers hold r.mu.
func (r *regulator) actual() physic.ElectricPotential {
	if r.sag {
		return physic.ElectricPotential(math.Round(float64(r.v) * sagFactor))
	}
	return r.v
}

// apply hands the delivered voltage to the chips. Callers hold r.mu.
func (r *regulator) apply() {
	r.emu.SetVoltage(float64(r.actual()) / float64(physic.MilliVolt))
}

// fan is the board fan: its airflow cools every chain.
type fan struct {
	b       *Board
	mu      sync.Mutex
	duty    float64
	stalled bool
	rng     *rand.Rand
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

// SetDuty sets the PWM duty in percent, 0–100. A stalled fan takes the
// setting but moves no air until the stall is cleared.
func (f *fan) SetDuty(percent float64) error {
	if !(percent >= 0 && percent <= 100) {
		return fmt.Errorf("sim: fan duty %v%%: want 0–100: %w", percent, ErrRange)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.duty = percent
	f.apply()
	return nil
}

// RPM reads the tachometer: RPMPerPercent per percent of duty, with ±1 %
// noise; a stopped or stalled fan reads 0.
func (f *fan) RPM() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	nominal := f.duty * RPMPerPercent
	if nominal == 0 || f.stalled {
		return 0, nil
	}
	return int(math.Round(nominal * (1 + 0.02*(f.rng.Float64()-0.5)))), nil
}

// setStalled starts or ends a fan stall.
func (f *fan) setStalled(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalled = on
	f.apply()
}

// powerW returns what the fan draws: FanWattsPerPercent per percent of
// duty, stalled or not (a blocked rotor still takes its drive current).
func (f *fan) powerW() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.duty * FanWattsPerPercent
}

// apply sets every chain's cooling from the airflow: none while stalled.
// Callers hold f.mu.
func (f *fan) apply() {
	airflow := f.duty
	if f.stalled {
		airflow = 0
	}
	for _, ch := range f.b.chains {
		ch.emu.SetCooling(CoolingFactor(airflow))
	}
}
