package i2cdev

import (
	"fmt"
	"math"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

// EMC2101 registers used here.
const (
	// emcInternalTemp (0x00) is the die temperature, signed whole °C.
	emcInternalTemp = 0x00
	// emcExternalHigh (0x01) is the external diode reading's high byte
	// (signed whole °C); reading it latches the low byte.
	emcExternalHigh = 0x01
	// emcConfig (0x03): bit 2 turns pin 4 into the tachometer input.
	emcConfig = 0x03
	// emcExternalLow (0x10): bits 7:5 are eighths of a degree.
	emcExternalLow = 0x10
	// emcIdeality (0x17) and emcBeta (0x18) tune the external diode.
	emcIdeality = 0x17
	emcBeta     = 0x18
	// emcTachLow/High (0x46/0x47): the tachometer count; reading the low
	// byte latches the high byte.
	emcTachLow  = 0x46
	emcTachHigh = 0x47
	// emcFanConfig (0x4A): PWM clock and polarity set-up.
	emcFanConfig = 0x4A
	// emcFanSetting (0x4C): the PWM duty, 0–63 for 0–100 %.
	emcFanSetting = 0x4C
	// emcProductID (0xFD): 0x16 (EMC2101) or 0x28 (EMC2101-R).
	emcProductID = 0xFD
)

// Set-up values, as open Bitaxe firmware writes them.
const (
	emcConfigTachInput = 0x04
	emcFanConfigValue  = 0x23
	emcMaxDuty         = 63
	// emcTachConstant over the tachometer count is the fan speed in RPM
	// (two tach pulses per revolution).
	emcTachConstant = 5_400_000
)

// EMC2101Config tunes the EMC2101's external diode channel. A nil field
// leaves the part's power-on value.
type EMC2101Config struct {
	// Ideality is written to the ideality-factor register (0x17); Bitaxe
	// Gamma boards use 0x24.
	Ideality *uint8
	// Beta is written to the beta-compensation register (0x18); Gamma
	// boards use 0x00.
	Beta *uint8
}

// EMC2101 is a fan controller with a tachometer input, an on-die and an
// external-diode temperature sensor (the ASIC's diode on Bitaxe boards).
// It implements hal.Fan, and hal.TempSensor with the external reading.
type EMC2101 struct {
	r *regs
}

var (
	_ hal.Fan        = (*EMC2101)(nil)
	_ hal.TempSensor = (*EMC2101)(nil)
)

// NewEMC2101 checks the product id of the part at addr (0 means
// EMC2101Addr), enables its tachometer input, sets up the PWM output and
// applies cfg.
func NewEMC2101(bus i2c.Bus, addr uint16, cfg EMC2101Config) (*EMC2101, error) {
	if addr == 0 {
		addr = EMC2101Addr
	}
	e := &EMC2101{r: newRegs(bus, addr, "emc2101")}
	id, err := e.r.readByte(emcProductID)
	if err != nil {
		return nil, err
	}
	if id != 0x16 && id != 0x28 {
		return nil, e.r.errorf("product id", fmt.Errorf("%#02x, want 0x16 or 0x28: %w", id, ErrWrongDevice))
	}
	writes := [][2]byte{{emcConfig, emcConfigTachInput}, {emcFanConfig, emcFanConfigValue}}
	if cfg.Ideality != nil {
		writes = append(writes, [2]byte{emcIdeality, *cfg.Ideality})
	}
	if cfg.Beta != nil {
		writes = append(writes, [2]byte{emcBeta, *cfg.Beta})
	}
	for _, w := range writes {
		if err := e.r.writeByte(w[0], w[1]); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// SetDuty sets the fan's PWM duty, 0–100 %, rounded to the part's 64
// steps.
func (e *EMC2101) SetDuty(percent float64) error {
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return e.r.errorf("set duty", fmt.Errorf("%v%%: %w", percent, ErrOutOfRange))
	}
	return e.r.writeByte(emcFanSetting, byte(math.Round(percent*emcMaxDuty/100)))
}

// Duty reads back the PWM duty in percent.
func (e *EMC2101) Duty() (float64, error) {
	v, err := e.r.readByte(emcFanSetting)
	if err != nil {
		return 0, err
	}
	return float64(min(v, emcMaxDuty)) * 100 / emcMaxDuty, nil
}

// RPM reads the fan speed; a stopped or missing fan reads 0.
func (e *EMC2101) RPM() (int, error) {
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	lo, err := e.r.readByte(emcTachLow)
	if err != nil {
		return 0, err
	}
	hi, err := e.r.readByte(emcTachHigh)
	if err != nil {
		return 0, err
	}
	return tachRPM(hi, lo), nil
}

// tachRPM turns a tachometer count into RPM. The count saturates at
// 0xFFFF when no pulses arrive.
func tachRPM(hi, lo byte) int {
	count := int(hi)<<8 | int(lo)
	if count == 0 || count == 0xFFFF {
		return 0
	}
	return emcTachConstant / count
}

// Temperature reads the external diode (the ASIC on Bitaxe boards). An
// open or shorted diode gives an error wrapping ErrSensorFault.
func (e *EMC2101) Temperature() (physic.Temperature, error) {
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	hi, err := e.r.readByte(emcExternalHigh)
	if err != nil {
		return 0, err
	}
	lo, err := e.r.readByte(emcExternalLow)
	if err != nil {
		return 0, err
	}
	t, err := externalTemp(hi, lo)
	if err != nil {
		return 0, e.r.errorf("external temperature", err)
	}
	return t, nil
}

// externalTemp decodes the external diode reading: an 11-bit two's
// complement count of eighths of a degree in hi:lo[7:5]. Two codes flag
// faults instead of temperatures: 0x3F8 (diode open) and 0x3FF (shorted).
func externalTemp(hi, lo byte) (physic.Temperature, error) {
	raw := int16(uint16(hi)<<8|uint16(lo)) >> 5
	switch raw {
	case 0x3F8:
		return 0, fmt.Errorf("diode open: %w", ErrSensorFault)
	case 0x3FF:
		return 0, fmt.Errorf("diode shorted: %w", ErrSensorFault)
	}
	return physic.ZeroCelsius + physic.Temperature(raw)*physic.Celsius/8, nil
}

// InternalTemperature reads the EMC2101's own die temperature, which some
// Ultra and Supra revisions use (plus an offset) instead of the diode.
func (e *EMC2101) InternalTemperature() (physic.Temperature, error) {
	v, err := e.r.readByte(emcInternalTemp)
	if err != nil {
		return 0, err
	}
	return physic.ZeroCelsius + physic.Temperature(int8(v))*physic.Celsius, nil
}

// Internal returns the die sensor as a hal.TempSensor, shifted by offset
// (Bitaxe Ultra/Supra boards that read the die add 5 °C).
func (e *EMC2101) Internal(offset physic.Temperature) hal.TempSensor {
	return internalSensor{e: e, offset: offset}
}

type internalSensor struct {
	e      *EMC2101
	offset physic.Temperature
}

// Temperature reads the die and adds the offset.
func (s internalSensor) Temperature() (physic.Temperature, error) {
	t, err := s.e.InternalTemperature()
	if err != nil {
		return 0, err
	}
	return t + s.offset, nil
}
