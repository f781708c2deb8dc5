// Package i2cdev holds drivers for the I²C parts on Bitaxe-class hash
// boards, written against periph's i2c.Bus so the same code runs on a
// Linux /dev/i2c-N bus and on periph's i2ctest playback in tests:
//
//   - EMC2101 fan controller and temperature sensor (hal.Fan, hal.TempSensor)
//   - TPS546D24A PMBus buck converter (hal.VoltageRegulator)
//   - DS4432U+ current DAC trimming a buck's feedback (hal.VoltageRegulator)
//   - INA260 power monitor
//
// Constructors check the part's identity where it has one and apply the
// set-up writes open Bitaxe firmware does; every method is one or a few
// bus transactions and safe for concurrent use.
package i2cdev

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
)

// Default 7-bit bus addresses of the parts.
const (
	EMC2101Addr uint16 = 0x4C
	TPS546Addr  uint16 = 0x24
	DS4432UAddr uint16 = 0x48
	INA260Addr  uint16 = 0x40
)

// ErrWrongDevice reports that the part answering at an address is not the
// one the driver expects (its identity register said otherwise).
var ErrWrongDevice = errors.New("unexpected device identity")

// ErrOutOfRange reports a set point the part cannot produce.
var ErrOutOfRange = errors.New("out of range")

// ErrSensorFault reports a temperature the sensor flags as a fault (an open
// or shorted diode) rather than a reading.
var ErrSensorFault = errors.New("sensor fault")

// regs is one device on a bus with the SMBus-style register accesses the
// drivers share. mu serialises multi-transaction sequences (a latched
// two-byte read, a set-up run).
type regs struct {
	mu   sync.Mutex
	dev  i2c.Dev
	name string
}

func newRegs(bus i2c.Bus, addr uint16, name string) *regs {
	return &regs{dev: i2c.Dev{Bus: bus, Addr: addr}, name: name}
}

func (r *regs) errorf(op string, err error) error {
	return fmt.Errorf("%s@%#02x: %s: %w", r.name, r.dev.Addr, op, err)
}

// readByte reads one register: write the register number, then read.
func (r *regs) readByte(reg byte) (byte, error) {
	var b [1]byte
	if err := r.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, r.errorf(fmt.Sprintf("read %#02x", reg), err)
	}
	return b[0], nil
}

func (r *regs) writeByte(reg, v byte) error {
	if err := r.dev.Tx([]byte{reg, v}, nil); err != nil {
		return r.errorf(fmt.Sprintf("write %#02x=%#02x", reg, v), err)
	}
	return nil
}

// send writes a command byte with no data (SMBus send byte).
func (r *regs) send(cmd byte) error {
	if err := r.dev.Tx([]byte{cmd}, nil); err != nil {
		return r.errorf(fmt.Sprintf("send %#02x", cmd), err)
	}
	return nil
}

// readWordLE reads a 16-bit register sent low byte first (SMBus/PMBus).
func (r *regs) readWordLE(reg byte) (uint16, error) {
	var b [2]byte
	if err := r.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, r.errorf(fmt.Sprintf("read word %#02x", reg), err)
	}
	return uint16(b[0]) | uint16(b[1])<<8, nil
}

func (r *regs) writeWordLE(reg byte, v uint16) error {
	if err := r.dev.Tx([]byte{reg, byte(v), byte(v >> 8)}, nil); err != nil {
		return r.errorf(fmt.Sprintf("write word %#02x=%#04x", reg, v), err)
	}
	return nil
}

// readWordBE reads a 16-bit register sent high byte first (INA260).
func (r *regs) readWordBE(reg byte) (uint16, error) {
	var b [2]byte
	if err := r.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, r.errorf(fmt.Sprintf("read word %#02x", reg), err)
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// readBlock does an SMBus block read of a register holding exactly n
// bytes: the part sends a count byte, then the data.
func (r *regs) readBlock(reg byte, n int) ([]byte, error) {
	b := make([]byte, n+1)
	if err := r.dev.Tx([]byte{reg}, b); err != nil {
		return nil, r.errorf(fmt.Sprintf("block read %#02x", reg), err)
	}
	if int(b[0]) != n {
		return nil, r.errorf(fmt.Sprintf("block read %#02x", reg),
			fmt.Errorf("count byte %d, want %d (% x)", b[0], n, b[1:]))
	}
	return b[1:], nil
}

// Probe reports whether a device acknowledges at addr, by reading one byte
// from it. Most parts answer a bare read with their current register; it
// changes nothing on the parts used here.
func Probe(bus i2c.Bus, addr uint16) bool {
	var one [1]byte
	return bus.Tx(addr, nil, one[:]) == nil
}
