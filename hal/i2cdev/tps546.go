package i2cdev

import (
	"bytes"
	"fmt"
	"math"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

// TPS546D24A PMBus commands used here.
const (
	pmOperation     = 0x01 // 0x00 output off, 0x80 on
	pmOnOffConfig   = 0x02
	pmClearFaults   = 0x03
	pmVoutMode      = 0x20
	pmVoutCommand   = 0x21
	pmVoutMax       = 0x24
	pmVoutScaleLoop = 0x29
	pmVoutMin       = 0x2B
	pmFreqSwitch    = 0x33
	pmVinOn         = 0x35
	pmVinOff        = 0x36
	pmIoutOCFault   = 0x46
	pmIoutOCWarn    = 0x4A
	pmStatusWord    = 0x79
	pmReadVin       = 0x88
	pmReadVout      = 0x8B
	pmReadIout      = 0x8C
	pmReadTemp1     = 0x8D
	pmICDeviceID    = 0xAD
)

const (
	opOff = 0x00
	opOn  = 0x80
	// onOffByCommand makes OPERATION alone switch the output (PMBus
	// ON_OFF_CONFIG: bit 4 honour on/off requests, bit 3 take them from
	// OPERATION, bit 2 clear: ignore the CONTROL pin).
	onOffByCommand = 0x18
)

// TPS546DeviceIDs are the IC_DEVICE_ID block contents of the supported
// parts: TPS546D24A (two silicon revisions) and TPS546D24S.
var TPS546DeviceIDs = [][]byte{
	{0x54, 0x49, 0x54, 0x6B, 0x24, 0x41},
	{0x54, 0x49, 0x54, 0x6D, 0x24, 0x41},
	{0x54, 0x49, 0x54, 0x6D, 0x24, 0x62},
}

// TPS546Config sets up a TPS546D24A. Zero limits are left at the part's
// stored values; the Bitaxe single-chip set-up is VinOn 4.8 V, VinOff
// 4.5 V, VoutMin 1 V, VoutMax 2 V, ScaleLoop 0.25, IoutOCWarn 25 A,
// IoutOCFault 30 A, SwitchFrequency 650 kHz.
type TPS546Config struct {
	// Domains is how many chip voltage domains the rail feeds in series
	// (Hex boards: 3). SetVoltage and Voltage speak per-domain volts; the
	// rail is Domains times that. Zero means 1.
	Domains int
	// VinOn and VinOff are the input thresholds that start and stop the
	// converter.
	VinOn, VinOff physic.ElectricPotential
	// VoutMin and VoutMax bound the rail; SetVoltage refuses targets
	// outside them.
	VoutMin, VoutMax physic.ElectricPotential
	// ScaleLoop is the output divider ratio (VOUT_SCALE_LOOP).
	ScaleLoop float64
	// IoutOCWarn and IoutOCFault are the output over-current limits.
	IoutOCWarn, IoutOCFault physic.ElectricCurrent
	// SwitchFrequency is the converter's switching frequency.
	SwitchFrequency physic.Frequency
}

// TPS546 is a PMBus buck converter supplying a chain's core rail. It
// implements hal.VoltageRegulator (per-domain volts) and hal.TempSensor
// (its own die).
type TPS546 struct {
	r       *regs
	domains int
	exp     int // ULINEAR16 exponent from VOUT_MODE
	min     physic.ElectricPotential
	max     physic.ElectricPotential
}

var (
	_ hal.VoltageRegulator = (*TPS546)(nil)
	_ hal.TempSensor       = (*TPS546)(nil)
)

// NewTPS546 checks the part's IC_DEVICE_ID at addr (0 means TPS546Addr),
// switches its output off, makes OPERATION control it, clears faults,
// reads VOUT_MODE and writes cfg's non-zero limits. The output stays off
// until SetVoltage.
func NewTPS546(bus i2c.Bus, addr uint16, cfg TPS546Config) (*TPS546, error) {
	if addr == 0 {
		addr = TPS546Addr
	}
	if cfg.Domains <= 0 {
		cfg.Domains = 1
	}
	t := &TPS546{r: newRegs(bus, addr, "tps546"), domains: cfg.Domains, min: cfg.VoutMin, max: cfg.VoutMax}
	if err := t.checkID(); err != nil {
		return nil, err
	}
	for _, w := range [][2]byte{{pmOperation, opOff}, {pmOnOffConfig, onOffByCommand}} {
		if err := t.r.writeByte(w[0], w[1]); err != nil {
			return nil, err
		}
	}
	if err := t.r.send(pmClearFaults); err != nil {
		return nil, err
	}
	mode, err := t.r.readByte(pmVoutMode)
	if err != nil {
		return nil, err
	}
	if t.exp, err = voutExponent(mode); err != nil {
		return nil, t.r.errorf("vout mode", err)
	}
	if err := t.configure(cfg); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *TPS546) checkID() error {
	id, err := t.r.readBlock(pmICDeviceID, 6)
	if err != nil {
		return err
	}
	for _, known := range TPS546DeviceIDs {
		if bytes.Equal(id, known) {
			return nil
		}
	}
	return t.r.errorf("device id", fmt.Errorf("% x: %w", id, ErrWrongDevice))
}

// configure writes the limits in an order the part accepts: input
// thresholds, the loop scale that the output limits are read through,
// then output and current limits (warning below fault).
func (t *TPS546) configure(cfg TPS546Config) error {
	type lin struct {
		cmd byte
		v   float64
	}
	volts := func(p physic.ElectricPotential) float64 { return float64(p) / float64(physic.Volt) }
	amps := func(c physic.ElectricCurrent) float64 { return float64(c) / float64(physic.Ampere) }
	for _, w := range []lin{
		{pmVinOn, volts(cfg.VinOn)}, {pmVinOff, volts(cfg.VinOff)},
		{pmVoutScaleLoop, cfg.ScaleLoop},
		{pmFreqSwitch, float64(cfg.SwitchFrequency) / float64(physic.KiloHertz)},
		{pmIoutOCWarn, amps(cfg.IoutOCWarn)}, {pmIoutOCFault, amps(cfg.IoutOCFault)},
	} {
		if w.v == 0 {
			continue
		}
		word, err := encodeLinear11(w.v)
		if err != nil {
			return t.r.errorf(fmt.Sprintf("set %#02x", w.cmd), err)
		}
		if err := t.r.writeWordLE(w.cmd, word); err != nil {
			return err
		}
	}
	for _, w := range []struct {
		cmd byte
		v   physic.ElectricPotential
	}{{pmVoutMax, cfg.VoutMax}, {pmVoutMin, cfg.VoutMin}} {
		if w.v == 0 {
			continue
		}
		if err := t.writeVout(w.cmd, w.v); err != nil {
			return err
		}
	}
	return nil
}

func (t *TPS546) writeVout(cmd byte, v physic.ElectricPotential) error {
	word, err := encodeULinear16(float64(v)/float64(physic.Volt), t.exp)
	if err != nil {
		return t.r.errorf(fmt.Sprintf("set %#02x", cmd), err)
	}
	return t.r.writeWordLE(cmd, word)
}

// SetVoltage sets the per-domain core voltage: the rail is programmed to
// Domains × v, then the output switched on. Zero or less switches the
// output off.
func (t *TPS546) SetVoltage(v physic.ElectricPotential) error {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if v <= 0 {
		return t.r.writeByte(pmOperation, opOff)
	}
	rail := v * physic.ElectricPotential(t.domains)
	if (t.min != 0 && rail < t.min) || (t.max != 0 && rail > t.max) {
		return t.r.errorf("set voltage", fmt.Errorf("rail %v outside %v–%v: %w", rail, t.min, t.max, ErrOutOfRange))
	}
	if err := t.writeVout(pmVoutCommand, rail); err != nil {
		return err
	}
	return t.r.writeByte(pmOperation, opOn)
}

// Voltage reads the measured output, per domain.
func (t *TPS546) Voltage() (physic.ElectricPotential, error) {
	w, err := t.r.readWordLE(pmReadVout)
	if err != nil {
		return 0, err
	}
	v := decodeULinear16(w, t.exp) / float64(t.domains)
	return physic.ElectricPotential(math.Round(v * float64(physic.Volt))), nil
}

// InputVoltage reads the converter's input.
func (t *TPS546) InputVoltage() (physic.ElectricPotential, error) {
	v, err := t.readLinear11(pmReadVin)
	return physic.ElectricPotential(math.Round(v * float64(physic.Volt))), err
}

// OutputCurrent reads the rail current.
func (t *TPS546) OutputCurrent() (physic.ElectricCurrent, error) {
	v, err := t.readLinear11(pmReadIout)
	return physic.ElectricCurrent(math.Round(v * float64(physic.Ampere))), err
}

// Temperature reads the converter's die temperature.
func (t *TPS546) Temperature() (physic.Temperature, error) {
	v, err := t.readLinear11(pmReadTemp1)
	if err != nil {
		return 0, err
	}
	return physic.ZeroCelsius + physic.Temperature(math.Round(v*float64(physic.Celsius))), nil
}

// Power is the rail's output power, measured voltage times current.
func (t *TPS546) Power() (physic.Power, error) {
	w, err := t.r.readWordLE(pmReadVout)
	if err != nil {
		return 0, err
	}
	amps, err := t.readLinear11(pmReadIout)
	if err != nil {
		return 0, err
	}
	watts := decodeULinear16(w, t.exp) * amps
	return physic.Power(math.Round(watts * float64(physic.Watt))), nil
}

// Status reads STATUS_WORD, the part's summary of warnings and faults
// (zero when all is well).
func (t *TPS546) Status() (uint16, error) {
	return t.r.readWordLE(pmStatusWord)
}

func (t *TPS546) readLinear11(cmd byte) (float64, error) {
	w, err := t.r.readWordLE(cmd)
	if err != nil {
		return 0, err
	}
	return decodeLinear11(w), nil
}
