package board

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/hal/gpioline"
	"github.com/kilnfw/kiln/hal/i2cdev"
	"github.com/kilnfw/kiln/hal/pwm"
)

// PowerMonitor reads the power a supply delivers (an INA260, a TPS546).
type PowerMonitor interface {
	Power() (physic.Power, error)
}

// Host opens the buses and lines a profile names. On a Linux board the
// functions come from hal/host; tests pass periph's fakes.
type Host struct {
	// OpenI2C opens an I²C bus by name.
	OpenI2C func(name string) (i2c.BusCloser, error)
	// Pin returns a GPIO line by name.
	Pin func(name string) (gpio.PinIO, error)
	// PWMRoot is the sysfs PWM class directory; empty means
	// /sys/class/pwm.
	PWMRoot string
	// Log receives what Open sets up; nil discards.
	Log *slog.Logger
}

// Hardware is a profile's parts, opened and in their safe state: chips
// held in reset, core supplies off, regulators' outputs off, fans set up.
// The chain's serial line is not opened here (hal/uart.Open, early, before
// many sockets exist).
type Hardware struct {
	Profile Profile
	// Chains follow Profile.Chains, index for index.
	Chains []ChainIO
	// Fans, Temps and Power are the board's fans, temperature sensors and
	// power monitors, in profile order.
	Fans  []NamedFan
	Temps []NamedTemp
	Power []NamedPower

	closers []func() error
}

// ChainIO is what drives one chain besides its serial line. Each field is
// nil when the profile gives no such part.
type ChainIO struct {
	Chain     Chain
	Reset     *gpioline.Reset
	Power     *gpioline.PowerSwitch
	Regulator hal.VoltageRegulator
}

// NamedFan is a fan and the profile device it comes from.
type NamedFan struct {
	Name string
	hal.Fan
}

// NamedTemp is a temperature sensor. Names: "asic" for the chip reading
// (an EMC2101's diode, or its die plus an offset), "board" for an EMC2101
// die when the diode is the chip reading, and a regulator's device name
// for its own die.
type NamedTemp struct {
	Name string
	hal.TempSensor
}

// NamedPower is a power monitor named after its profile device.
type NamedPower struct {
	Name string
	PowerMonitor
}

// Open opens and sets up every part of p in the order Bitaxe firmware
// powers up: reset lines driven low and supplies switched off first, then
// the regulators (output off), then fans and sensors. On error whatever
// was opened is closed again.
func Open(p Profile, h Host) (*Hardware, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if !p.Complete() {
		return nil, fmt.Errorf("board: open %s: chip model or a chain's serial device not given", p.Name)
	}
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	hw := &Hardware{Profile: p.Clone()}
	if err := hw.open(h); err != nil {
		return nil, errors.Join(fmt.Errorf("board: open %s: %w", p.Name, err), hw.Close())
	}
	return hw, nil
}

func (hw *Hardware) open(h Host) error {
	for i, c := range hw.Profile.Chains {
		cio, err := openChainLines(c, h)
		if err != nil {
			return fmt.Errorf("chain %d: %w", i, err)
		}
		hw.Chains = append(hw.Chains, cio)
	}
	var bus i2c.Bus
	if slices.ContainsFunc(hw.Profile.Devices, func(d Device) bool { return d.Kind.onI2C() }) {
		if h.OpenI2C == nil {
			return errors.New("no way to open the i2c bus")
		}
		b, err := h.OpenI2C(hw.Profile.I2CBus)
		if err != nil {
			return err
		}
		hw.closers = append(hw.closers, b.Close)
		bus = b
	}
	// Regulators first, so every output is off before anything else runs.
	regs := map[string]hal.VoltageRegulator{}
	for _, d := range hw.Profile.Devices {
		if !d.Kind.regulates() {
			continue
		}
		r, err := hw.openRegulator(bus, d)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Name, err)
		}
		regs[d.Name] = r
		h.Log.Info("regulator ready", "device", d.Name, "kind", string(d.Kind))
	}
	for i, c := range hw.Profile.Chains {
		if c.Regulator != "" {
			hw.Chains[i].Regulator = regs[c.Regulator]
		}
	}
	for _, d := range hw.Profile.Devices {
		if d.Kind.regulates() {
			continue
		}
		if err := hw.openDevice(bus, d, h); err != nil {
			return fmt.Errorf("device %s: %w", d.Name, err)
		}
		h.Log.Info("device ready", "device", d.Name, "kind", string(d.Kind))
	}
	return nil
}

// openChainLines takes the chain's reset and power lines to their safe
// state: chips in reset, supply off.
func openChainLines(c Chain, h Host) (ChainIO, error) {
	cio := ChainIO{Chain: c}
	if (c.Reset != "" || c.Power != "") && h.Pin == nil {
		return cio, errors.New("no way to open gpio lines")
	}
	if c.Reset != "" {
		pin, err := h.Pin(c.Reset)
		if err != nil {
			return cio, err
		}
		cio.Reset = gpioline.NewReset(pin, gpioline.ResetConfig{})
		if err := cio.Reset.Hold(); err != nil {
			return cio, err
		}
	}
	if c.Power != "" {
		pin, err := h.Pin(c.Power)
		if err != nil {
			return cio, err
		}
		cio.Power = gpioline.NewPowerSwitch(pin, c.PowerActiveLow)
		if err := cio.Power.SetPower(false); err != nil {
			return cio, err
		}
	}
	return cio, nil
}

func (hw *Hardware) openRegulator(bus i2c.Bus, d Device) (hal.VoltageRegulator, error) {
	switch d.Kind {
	case KindTPS546:
		t, err := i2cdev.NewTPS546(bus, d.Addr, i2cdev.TPS546Config{
			Domains: d.Domains, VinOn: d.VinOn, VinOff: d.VinOff,
			VoutMin: d.VoutMin, VoutMax: d.VoutMax, ScaleLoop: d.ScaleLoop,
			IoutOCWarn: d.IoutOCWarn, IoutOCFault: d.IoutOCFault,
			SwitchFrequency: d.SwitchFrequency,
		})
		if err != nil {
			return nil, err
		}
		hw.Temps = append(hw.Temps, NamedTemp{d.Name, t})
		hw.Power = append(hw.Power, NamedPower{d.Name, t})
		return t, nil
	case KindDS4432U:
		return i2cdev.NewDS4432U(bus, d.Addr, d.Output)
	}
	return nil, fmt.Errorf("kind %s is not a regulator", d.Kind)
}

func (hw *Hardware) openDevice(bus i2c.Bus, d Device, h Host) error {
	switch d.Kind {
	case KindEMC2101:
		e, err := i2cdev.NewEMC2101(bus, d.Addr, i2cdev.EMC2101Config{Ideality: d.Ideality, Beta: d.Beta})
		if err != nil {
			return err
		}
		hw.Fans = append(hw.Fans, NamedFan{d.Name, e})
		switch d.Temp {
		case "", "external":
			hw.Temps = append(hw.Temps, NamedTemp{"asic", offsetTemp{e, d.TempOffset}}, NamedTemp{"board", e.Internal(0)})
		case "internal":
			hw.Temps = append(hw.Temps, NamedTemp{"asic", e.Internal(d.TempOffset)})
		}
	case KindINA260:
		n, err := i2cdev.NewINA260(bus, d.Addr)
		if err != nil {
			return err
		}
		hw.Power = append(hw.Power, NamedPower{d.Name, n})
	case KindPWMFan:
		cfg := pwm.Config{Root: h.PWMRoot, Chip: d.PWMChip, Channel: d.PWMChannel, Invert: d.Invert}
		if d.PWMFrequency > 0 {
			cfg.Period = d.PWMFrequency.Period()
		}
		ch, err := pwm.Open(cfg)
		if err != nil {
			return err
		}
		hw.closers = append(hw.closers, ch.Close)
		hw.Fans = append(hw.Fans, NamedFan{d.Name, pwm.NewFan(ch, nil)})
	default:
		return fmt.Errorf("unsupported kind %s", d.Kind)
	}
	return nil
}

// offsetTemp adds a fixed offset to a sensor's reading.
type offsetTemp struct {
	s      hal.TempSensor
	offset physic.Temperature
}

// Temperature reads the sensor and adds the offset.
func (o offsetTemp) Temperature() (physic.Temperature, error) {
	t, err := o.s.Temperature()
	if err != nil {
		return 0, err
	}
	return t + o.offset, nil
}

// Close leaves the board safe and releases it: every chain's regulator
// output (where it can switch one) and supply off, chips held in reset,
// then PWM outputs disabled and buses closed.
// Errors are joined; Close does all it can.
func (hw *Hardware) Close() error {
	var errs []error
	for _, c := range hw.Chains {
		if t, ok := c.Regulator.(*i2cdev.TPS546); ok {
			errs = append(errs, t.SetVoltage(0))
		}
		if c.Power != nil {
			errs = append(errs, c.Power.SetPower(false))
		}
		if c.Reset != nil {
			errs = append(errs, c.Reset.Hold())
		}
	}
	for i := len(hw.closers) - 1; i >= 0; i-- {
		errs = append(errs, hw.closers[i]())
	}
	hw.closers = nil
	return errors.Join(errs...)
}
