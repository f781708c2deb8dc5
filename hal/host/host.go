// Package host opens a Linux control board's I²C buses and GPIO lines
// through periph's host drivers: /dev/i2c-N buses (named "/dev/i2c-1" or
// "I2C1") and GPIO character-device lines (named by their line name, as
// in the device tree's gpio-line-names). Only the controller's hardware
// wiring imports it; tests of the drivers use periph's fakes.
package host

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/sysfs" // registers the /dev/i2c-N buses

	"github.com/kilnfw/kiln/hal/i2cdev"
)

var (
	initOnce sync.Once
	initErr  error
)

// Init loads periph's host drivers once. Drivers that find no hardware
// (no /dev/i2c-N, no /dev/gpiochipN) are skipped silently; the error
// joins those that failed on hardware they found (a permission problem,
// typically). The drivers that did load stay usable either way.
func Init() error {
	initOnce.Do(func() {
		state, err := driverreg.Init()
		if err != nil {
			initErr = fmt.Errorf("host: init periph drivers: %w", err)
			return
		}
		var errs []error
		for _, f := range state.Failed {
			errs = append(errs, fmt.Errorf("host: periph driver %s: %w", f.D, f.Err))
		}
		initErr = errors.Join(errs...)
	})
	return initErr
}

// OpenI2C opens the I²C bus with the given name ("/dev/i2c-1", "I2C1",
// or "" for the first bus).
func OpenI2C(name string) (i2c.BusCloser, error) {
	initErr := Init()
	bus, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("host: open i2c bus %q: %w", name, errors.Join(err, initErr))
	}
	return bus, nil
}

// Pin returns the GPIO line with the given name or number.
func Pin(name string) (gpio.PinIO, error) {
	initErr := Init()
	p := gpioreg.ByName(name)
	if p == nil {
		err := fmt.Errorf("no such line (%d GPIO chips found)", len(gpioioctl.Chips))
		return nil, fmt.Errorf("host: gpio %q: %w", name, errors.Join(err, initErr))
	}
	return p, nil
}

// Probe reports whether a device acknowledges at addr on the named bus,
// by reading one byte from it. It opens and closes the bus.
func Probe(bus string, addr uint16) bool {
	b, err := OpenI2C(bus)
	if err != nil {
		return false
	}
	defer b.Close()
	return i2cdev.Probe(b, addr)
}
