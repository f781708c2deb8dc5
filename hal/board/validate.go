package board

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid marks a profile that cannot describe a board.
var ErrInvalid = errors.New("invalid profile")

// Validate checks that p is self-consistent: a usable name, a known chip
// (or none, for the user to give), at least one chain with chips, known
// device kinds with distinct names and I²C addresses, and references that
// resolve. It does not require Complete. Errors wrap ErrInvalid.
func (p Profile) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !validName(p.Name) {
		add("name %q: want lower-case letters, digits and dashes", p.Name)
	}
	if p.Chip != "" {
		if _, ok := knownChip(p.Chip); !ok {
			add("chip %q: want one of %s", p.Chip, strings.Join(Chips, ", "))
		}
	}
	if p.Frequency < 0 || p.Voltage < 0 {
		add("negative default frequency or voltage")
	}
	p.validateChains(add)
	p.validateDevices(add)
	for _, a := range p.Detect.I2C {
		if a > 0x7F {
			add("detect: i2c address %#x is not 7-bit", a)
		}
	}
	if len(p.Detect.I2C) > 0 && p.I2CBus == "" {
		add("detect: i2c addresses without an i2c_bus")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("board: profile %q: %w: %w", p.Name, ErrInvalid, errors.Join(errs...))
}

func validName(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func (p Profile) validateChains(add func(string, ...any)) {
	if len(p.Chains) == 0 {
		add("no chains")
	}
	devices := map[string]bool{}
	for i, c := range p.Chains {
		if c.Chips < 1 {
			add("chain %d: %d chips, want at least 1", i, c.Chips)
		}
		if c.Domains < 0 || (c.Domains > 1 && c.Chips%c.Domains != 0) {
			add("chain %d: %d chips do not split into %d voltage domains", i, c.Chips, c.Domains)
		}
		if c.Device != "" {
			if devices[c.Device] {
				add("chain %d: serial device %s used twice", i, c.Device)
			}
			devices[c.Device] = true
		}
		if c.Regulator != "" {
			d, ok := p.Device(c.Regulator)
			switch {
			case !ok:
				add("chain %d: regulator %q is not a listed device", i, c.Regulator)
			case !d.Kind.regulates():
				add("chain %d: regulator %q is a %s, which cannot set a voltage", i, c.Regulator, d.Kind)
			case d.Kind == KindTPS546 && max(d.Domains, 1) != max(c.Domains, 1):
				add("chain %d: %d voltage domains but regulator %q programs %d", i, max(c.Domains, 1), c.Regulator, max(d.Domains, 1))
			}
		}
		if c.Power == "" && c.PowerActiveLow {
			add("chain %d: power_active_low without a power line", i)
		}
	}
}

func (p Profile) validateDevices(add func(string, ...any)) {
	names := map[string]bool{}
	addrs := map[uint16]string{}
	for i, d := range p.Devices {
		if d.Name == "" {
			add("device %d: no name", i)
		} else if names[d.Name] {
			add("device %q listed twice", d.Name)
		}
		names[d.Name] = true
		if !knownKind(d.Kind) {
			add("device %q: unknown kind %q", d.Name, d.Kind)
			continue
		}
		if d.Kind.onI2C() {
			if p.I2CBus == "" {
				add("device %q: on i2c but the profile names no i2c_bus", d.Name)
			}
			if d.Addr < 0x03 || d.Addr > 0x77 {
				add("device %q: i2c address %#02x outside 0x03–0x77", d.Name, d.Addr)
			} else if other, dup := addrs[d.Addr]; dup {
				add("device %q: i2c address %#02x already used by %q", d.Name, d.Addr, other)
			}
			addrs[d.Addr] = d.Name
		}
		validateKind(d, add)
	}
}

func knownKind(k Kind) bool {
	switch k {
	case KindEMC2101, KindTPS546, KindDS4432U, KindINA260, KindPWMFan:
		return true
	}
	return false
}

func validateKind(d Device, add func(string, ...any)) {
	switch d.Kind {
	case KindEMC2101:
		switch d.Temp {
		case "", "external", "internal", "none":
		default:
			add("device %q: temp %q, want external, internal or none", d.Name, d.Temp)
		}
	case KindTPS546:
		if d.Domains < 0 {
			add("device %q: %d domains", d.Name, d.Domains)
		}
		if d.VoutMin != 0 && d.VoutMax != 0 && d.VoutMin > d.VoutMax {
			add("device %q: vout_min %v above vout_max %v", d.Name, d.VoutMin, d.VoutMax)
		}
		if d.IoutOCWarn != 0 && d.IoutOCFault != 0 && d.IoutOCWarn > d.IoutOCFault {
			add("device %q: over-current warning %v above fault %v", d.Name, d.IoutOCWarn, d.IoutOCFault)
		}
	case KindDS4432U:
		if d.Output != 0 && d.Output != 1 {
			add("device %q: output %d, want 0 or 1", d.Name, d.Output)
		}
	case KindPWMFan:
		if d.PWMChip < 0 || d.PWMChannel < 0 {
			add("device %q: negative pwm chip or channel", d.Name)
		}
	}
}
