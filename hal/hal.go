package hal

import (
	"context"
	"io"

	"periph.io/x/conn/v3/physic"
)

// Baud is a serial line rate in bits per second. BM13xx chains start at
// 115 200 and switch to 1–3.125 Mbaud, rates a serial driver must accept
// even though they are not standard.
type Baud uint32

// Common chain rates.
const (
	Baud115200 Baud = 115200
	Baud1M     Baud = 1000000
	Baud3125K  Baud = 3125000
)

// Chain is the byte transport to a string of chips: a UART on a control
// board, a USB-serial adapter, or a pseudo-terminal with a chip emulator
// behind it. Read returns what arrived, waiting at most the port's read
// timeout; (0, nil) means nothing arrived in time.
type Chain interface {
	io.ReadWriter
	// SetBaud changes the host side's line rate. Callers drain their last
	// write first; the chips switch on a register write of their own.
	SetBaud(Baud) error
	// Drain waits until everything written has left the host.
	Drain() error
	// ResetInput discards whatever has been received and not yet read.
	ResetInput() error
	Close() error
}

// ResetLine pulses a chain's active-low reset input.
type ResetLine interface {
	Reset(ctx context.Context) error
}

// PowerSwitch turns a chain's core supply on or off.
type PowerSwitch interface {
	SetPower(on bool) error
}

// TempSensor reads a temperature (a chip diode, a board sensor).
type TempSensor interface {
	Temperature() (physic.Temperature, error)
}

// Fan is a PWM-driven fan with a tachometer.
type Fan interface {
	// SetDuty sets the PWM duty in percent, 0–100.
	SetDuty(percent float64) error
	// RPM reads the tachometer.
	RPM() (int, error)
}

// VoltageRegulator sets and reads a chain's core voltage.
type VoltageRegulator interface {
	SetVoltage(v physic.ElectricPotential) error
	Voltage() (physic.ElectricPotential, error)
}

// PowerMeter reads electrical power drawn: a board's input, or one
// chain's supply, as a power monitor or a regulator's telemetry reports it.
type PowerMeter interface {
	Power() (physic.Power, error)
}

// Identity names a board: model and serial number, as read from its EEPROM
// or given by its profile.
type Identity struct {
	Model  string
	Serial string
}
