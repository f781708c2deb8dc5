package i2cdev

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// INA260 registers: 16-bit, sent high byte first.
const (
	inaCurrent        = 0x01 // signed, 1.25 mA per LSB
	inaBusVoltage     = 0x02 // 1.25 mV per LSB
	inaPower          = 0x03 // 10 mW per LSB
	inaManufacturerID = 0xFE // "TI"
	inaTexasInstr     = 0x5449
)

// INA260 is a power monitor with an integrated shunt on the input of a
// DS4432U-trimmed core supply.
type INA260 struct {
	r *regs
}

// NewINA260 checks the manufacturer id of the part at addr (0 means
// INA260Addr).
func NewINA260(bus i2c.Bus, addr uint16) (*INA260, error) {
	if addr == 0 {
		addr = INA260Addr
	}
	n := &INA260{r: newRegs(bus, addr, "ina260")}
	id, err := n.r.readWordBE(inaManufacturerID)
	if err != nil {
		return nil, err
	}
	if id != inaTexasInstr {
		return nil, n.r.errorf("manufacturer id", fmt.Errorf("%#04x, want %#04x: %w", id, inaTexasInstr, ErrWrongDevice))
	}
	return n, nil
}

// Current reads the current through the shunt; negative when it flows
// backwards.
func (n *INA260) Current() (physic.ElectricCurrent, error) {
	w, err := n.r.readWordBE(inaCurrent)
	return inaCurrentValue(w), err
}

// Voltage reads the bus voltage.
func (n *INA260) Voltage() (physic.ElectricPotential, error) {
	w, err := n.r.readWordBE(inaBusVoltage)
	return inaVoltageValue(w), err
}

// Power reads the power the part computes from current and voltage.
func (n *INA260) Power() (physic.Power, error) {
	w, err := n.r.readWordBE(inaPower)
	return inaPowerValue(w), err
}

func inaCurrentValue(w uint16) physic.ElectricCurrent {
	return physic.ElectricCurrent(int16(w)) * 1250 * physic.MicroAmpere
}

func inaVoltageValue(w uint16) physic.ElectricPotential {
	return physic.ElectricPotential(w) * 1250 * physic.MicroVolt
}

func inaPowerValue(w uint16) physic.Power {
	return physic.Power(w) * 10 * physic.MilliWatt
}
