// Package board describes the hash boards and control boards Kiln runs on,
// as data: which chip family, how many chains and chips, which serial
// device, reset and power lines each chain uses, and which parts sit on
// the I²C bus (fan controller, temperature sensors, voltage regulators,
// power monitors) at which addresses. The built-in profiles live in
// profiles.json; a user can supply another in the same format (Decode).
//
// Detect guesses the board from what the host shows (device-tree model,
// parts answering on I²C, serial devices present); Open turns a profile
// into hal devices on real buses and lines.
//
// GPIO lines are named as the host's device tree names them
// (gpio-line-names). The Bitaxe-class profiles assume a Linux host wired
// to the hash board with lines named ASIC_RST_N (the chips' reset) and
// ASIC_PWR_EN_N (the core supply's active-low enable), the UART at
// /dev/serial0 and the I²C bus at /dev/i2c-1, as on a Raspberry Pi header;
// other wiring needs a profile file.
package board

import (
	"slices"
	"strings"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

// Kind names a part a profile can list.
type Kind string

// Supported parts.
const (
	// KindEMC2101 is an EMC2101 fan controller and temperature sensor.
	KindEMC2101 Kind = "emc2101"
	// KindTPS546 is a TPS546D24A PMBus buck converter.
	KindTPS546 Kind = "tps546"
	// KindDS4432U is a DS4432U+ current DAC trimming a buck converter.
	KindDS4432U Kind = "ds4432u"
	// KindINA260 is an INA260 power monitor.
	KindINA260 Kind = "ina260"
	// KindPWMFan is a fan on a Linux sysfs PWM channel, without tachometer.
	KindPWMFan Kind = "pwm-fan"
)

// onI2C reports whether parts of kind k sit on the profile's I²C bus.
func (k Kind) onI2C() bool { return k != KindPWMFan }

// regulates reports whether parts of kind k can set a chain's voltage.
func (k Kind) regulates() bool { return k == KindTPS546 || k == KindDS4432U }

// Chips are the chip model names a profile may give.
var Chips = []string{"BM1362", "BM1366", "BM1368", "BM1370", "BM1397"}

// Profile describes one board.
type Profile struct {
	// Name is the short name users pass to --board, e.g. "bitaxe-gamma".
	Name string
	// Description says in a sentence what the board is.
	Description string
	// Chip is the chip model ("BM1366"); empty when the user gives it
	// (USB sticks).
	Chip string
	// Frequency and Voltage are the default hash clock and per-chip core
	// voltage.
	Frequency physic.Frequency
	Voltage   physic.ElectricPotential
	// I2CBus names the bus the Devices sit on ("/dev/i2c-1"); empty when
	// there are none.
	I2CBus string
	// Chains are the board's chip strings, in the order the controller
	// numbers them.
	Chains []Chain
	// Devices are the parts the controller drives besides the chips.
	Devices []Device
	// Detect says how Detect recognises the board.
	Detect Detection
}

// Chain is one string of chips behind one serial line.
type Chain struct {
	// Device is the serial device ("/dev/ttyS1"); empty when the user
	// gives it (USB sticks).
	Device string
	// Chips is how many chips answer enumeration on a healthy chain.
	Chips int
	// Domains is how many voltage domains the chips are stacked in (0 or
	// 1: one).
	Domains int
	// Baud is the fast line rate the host switches to after
	// initialisation; the chips are set to the nearest rate they make.
	Baud hal.Baud
	// Reset names the GPIO line wired to the chips' active-low reset;
	// empty when there is none.
	Reset string
	// Power names the GPIO line enabling the chain's core supply; empty
	// when there is none.
	Power string
	// PowerActiveLow means a low level on Power turns the supply on.
	PowerActiveLow bool
	// Regulator names the Device that sets this chain's voltage; empty
	// when none does.
	Regulator string
}

// Device is one part on the board.
type Device struct {
	// Name identifies the part within the profile ("vcore", "fan").
	Name string
	// Kind says what part it is.
	Kind Kind
	// Addr is the 7-bit I²C address (parts on the bus only).
	Addr uint16

	// EMC2101: Temp selects the chip temperature source, "external" (the
	// diode, default), "internal" (the EMC2101's die) or "none";
	// TempOffset is added to the reading; Ideality and Beta tune the
	// diode channel when set.
	Temp       string
	TempOffset physic.Temperature
	Ideality   *uint8
	Beta       *uint8

	// TPS546: set-up limits (zero: left as stored in the part) and the
	// number of stacked voltage domains it feeds.
	Domains         int
	VinOn, VinOff   physic.ElectricPotential
	VoutMin         physic.ElectricPotential
	VoutMax         physic.ElectricPotential
	ScaleLoop       float64
	IoutOCWarn      physic.ElectricCurrent
	IoutOCFault     physic.ElectricCurrent
	SwitchFrequency physic.Frequency

	// DS4432U: which output (0 or 1) trims the supply.
	Output int

	// PWM fan: the sysfs channel, PWM frequency (zero: 25 kHz) and
	// polarity.
	PWMChip, PWMChannel int
	PWMFrequency        physic.Frequency
	Invert              bool
}

// Detection is how a board is recognised on the host.
type Detection struct {
	// Models are substrings of the device-tree model (case-insensitive)
	// that name the board. A device tree whose compatible list holds
	// "kiln,<profile name>" names it too.
	Models []string
	// I2C are addresses that must all answer on the profile's bus.
	I2C []uint16
}

// Clone returns a deep copy of p, so a caller can adjust a profile (a
// chain's device path, the chip) without touching the table.
func (p Profile) Clone() Profile {
	p.Chains = slices.Clone(p.Chains)
	p.Devices = slices.Clone(p.Devices)
	for i := range p.Devices {
		d := &p.Devices[i]
		if d.Ideality != nil {
			v := *d.Ideality
			d.Ideality = &v
		}
		if d.Beta != nil {
			v := *d.Beta
			d.Beta = &v
		}
	}
	p.Detect.Models = slices.Clone(p.Detect.Models)
	p.Detect.I2C = slices.Clone(p.Detect.I2C)
	return p
}

// Device returns the part with the given name.
func (p Profile) Device(name string) (Device, bool) {
	i := slices.IndexFunc(p.Devices, func(d Device) bool { return d.Name == name })
	if i < 0 {
		return Device{}, false
	}
	return p.Devices[i], true
}

// Complete reports whether everything Open needs is filled in: the chip
// model and every chain's serial device. Table profiles for USB sticks
// leave those to the user.
func (p Profile) Complete() bool {
	if p.Chip == "" {
		return false
	}
	for _, c := range p.Chains {
		if c.Device == "" {
			return false
		}
	}
	return true
}

// knownChip reports whether name is one of Chips, ignoring case.
func knownChip(name string) (string, bool) {
	up := strings.ToUpper(name)
	return up, slices.Contains(Chips, up)
}
