// Package gpioline drives a hash chain's control lines on GPIO outputs: the
// chips' active-low reset input (hal.ResetLine) and the enable input of the
// chain's core supply (hal.PowerSwitch). Both take the narrowest periph
// role, gpio.PinOut, so a Linux GPIO line, an expander pin or periph's
// gpiotest.Pin all fit.
package gpioline

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/kilnfw/kiln/hal"
)

// Default reset timing, as open Bitaxe firmware pulses RST_N: held low for
// 100 ms, then released and given 100 ms before the first command.
const (
	DefaultResetHold   = 100 * time.Millisecond
	DefaultResetSettle = 100 * time.Millisecond
)

// ResetConfig sets a reset pulse's timing. Zero fields take the defaults.
type ResetConfig struct {
	// Hold is how long the line stays low.
	Hold time.Duration
	// Settle is how long Reset waits after releasing the line, so the
	// chips' UARTs are up before the first command.
	Settle time.Duration
}

// Reset pulses a chain's active-low reset input. It implements
// hal.ResetLine.
type Reset struct {
	pin    gpio.PinOut
	hold   time.Duration
	settle time.Duration
}

var _ hal.ResetLine = (*Reset)(nil)

// NewReset returns a reset line on pin; cfg's zero fields take the
// defaults (100 ms low, 100 ms settle).
func NewReset(pin gpio.PinOut, cfg ResetConfig) *Reset {
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultResetHold
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultResetSettle
	}
	return &Reset{pin: pin, hold: cfg.Hold, settle: cfg.Settle}
}

// Reset drives the line low for the hold time, releases it high and waits
// the settle time. If ctx ends while the line is low it stays low (the
// chips held in reset, the safe state) and Reset returns ctx's error.
func (r *Reset) Reset(ctx context.Context) error {
	if err := r.pin.Out(gpio.Low); err != nil {
		return fmt.Errorf("gpioline: reset %s: drive low: %w", r.pin, err)
	}
	if err := sleep(ctx, r.hold); err != nil {
		return fmt.Errorf("gpioline: reset %s: %w", r.pin, err)
	}
	if err := r.pin.Out(gpio.High); err != nil {
		return fmt.Errorf("gpioline: reset %s: release: %w", r.pin, err)
	}
	if err := sleep(ctx, r.settle); err != nil {
		return fmt.Errorf("gpioline: reset %s: settle: %w", r.pin, err)
	}
	return nil
}

// Hold drives the line low and leaves it there: the chips stop and stay
// in reset, as on shutdown.
func (r *Reset) Hold() error {
	if err := r.pin.Out(gpio.Low); err != nil {
		return fmt.Errorf("gpioline: hold reset %s: %w", r.pin, err)
	}
	return nil
}

// Release drives the line high without waiting.
func (r *Reset) Release() error {
	if err := r.pin.Out(gpio.High); err != nil {
		return fmt.Errorf("gpioline: release reset %s: %w", r.pin, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PowerSwitch drives the enable input of a chain's core supply. It
// implements hal.PowerSwitch.
type PowerSwitch struct {
	pin       gpio.PinOut
	activeLow bool
}

var _ hal.PowerSwitch = (*PowerSwitch)(nil)

// NewPowerSwitch returns a switch on pin. activeLow means a low level
// turns the supply on, as on the Bitaxe (ESP32 GPIO10, 0 = core supply
// on).
func NewPowerSwitch(pin gpio.PinOut, activeLow bool) *PowerSwitch {
	return &PowerSwitch{pin: pin, activeLow: activeLow}
}

// SetPower turns the supply on or off.
func (s *PowerSwitch) SetPower(on bool) error {
	level := gpio.Level(on != s.activeLow)
	if err := s.pin.Out(level); err != nil {
		return fmt.Errorf("gpioline: power %s %s: %w", onOff(on), s.pin, err)
	}
	return nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
