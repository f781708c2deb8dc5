package i2cdev

import (
	"fmt"
	"math"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

// DS4432U+ output registers: OUT0 and OUT1, one code byte each.
const (
	dsOut0 = 0xF8
	dsOut1 = 0xF9
)

// The DS4432U+ on Bitaxe Max/Ultra/Supra boards injects current into the
// feedback node of a TPS40305 buck: the node sits at dsVfb, the divider
// resistors are dsRBottom (to ground) and dsRTop (to the output), and code
// 127 is dsFullScale. With I the current the DAC must source,
//
//	V = Vfb + Rtop·(Vfb/Rbottom − I)
//
// so the code for V is ceil(|Vfb/Rbottom − (V−Vfb)/Rtop| / full scale · 127),
// bit 7 set (source) when that current is positive, i.e. V is below the
// zero-current output Vfb·(1 + Rtop/Rbottom) ≈ 1.458 V. (Open firmware
// compares with 1.451 V instead, which flips the sign for targets between
// the two and lands them four steps off; the codes elsewhere agree.)
const (
	dsVfb       = 0.6
	dsRBottom   = 3320.0
	dsRTop      = 4750.0
	dsFullScale = 98.921e-6
)

// DS4432U is a current DAC trimming a buck converter's output. It
// implements hal.VoltageRegulator; it cannot switch the rail off (the
// board's power-enable line does).
type DS4432U struct {
	r   *regs
	reg byte
}

var _ hal.VoltageRegulator = (*DS4432U)(nil)

// NewDS4432U returns the DAC at addr (0 means DS4432UAddr) driving output
// 0 or 1, after reading that output's code to check the part answers.
func NewDS4432U(bus i2c.Bus, addr uint16, output int) (*DS4432U, error) {
	if addr == 0 {
		addr = DS4432UAddr
	}
	if output != 0 && output != 1 {
		return nil, fmt.Errorf("ds4432u@%#02x: output %d, want 0 or 1", addr, output)
	}
	d := &DS4432U{r: newRegs(bus, addr, "ds4432u"), reg: dsOut0 + byte(output)}
	if _, err := d.r.readByte(d.reg); err != nil {
		return nil, err
	}
	return d, nil
}

// SetVoltage programs the code for v. Targets outside what the DAC's
// range reaches (about 0.99–1.93 V) give an error wrapping ErrOutOfRange.
func (d *DS4432U) SetVoltage(v physic.ElectricPotential) error {
	code, err := DS4432UCode(v)
	if err != nil {
		return d.r.errorf("set voltage", err)
	}
	return d.r.writeByte(d.reg, code)
}

// Voltage reads the programmed code back and returns the output voltage
// it sets (the set point; the DAC measures nothing).
func (d *DS4432U) Voltage() (physic.ElectricPotential, error) {
	code, err := d.r.readByte(d.reg)
	if err != nil {
		return 0, err
	}
	return DS4432UVoltage(code), nil
}

// DS4432UCode returns the DAC code byte that sets the buck's output to v:
// 1.20 V → 0xC6, 1.15 V → 0xD4, 1.40 V → 0x90.
func DS4432UCode(v physic.ElectricPotential) (byte, error) {
	volts := float64(v) / float64(physic.Volt)
	current := dsVfb/dsRBottom - (volts-dsVfb)/dsRTop
	// A millionth of a step absorbs rounding, so a voltage decoded from a
	// code encodes back to that code instead of one step more.
	steps := math.Ceil(math.Abs(current)/dsFullScale*127 - 1e-6)
	if v <= 0 || steps > 127 {
		return 0, fmt.Errorf("ds4432u: %v: %w", v, ErrOutOfRange)
	}
	code := byte(steps)
	if current > 0 {
		code |= 0x80
	}
	return code, nil
}

// DS4432UVoltage is the output voltage a DAC code sets, the inverse of
// DS4432UCode up to its rounding.
func DS4432UVoltage(code byte) physic.ElectricPotential {
	current := float64(code&0x7F) / 127 * dsFullScale
	if code&0x80 == 0 {
		current = -current
	}
	volts := dsVfb + dsRTop*(dsVfb/dsRBottom-current)
	return physic.ElectricPotential(math.Round(volts * float64(physic.Volt)))
}
