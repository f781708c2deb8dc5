// Package pwm drives a fan through the Linux sysfs PWM interface
// (/sys/class/pwm/pwmchipN/pwmM), which periph does not wrap. A channel is
// exported if needed, given a period, and its duty cycle set in percent.
// The sysfs root is injectable so tests run against a directory tree.
package pwm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kilnfw/kiln/hal"
)

// DefaultRoot is where the kernel lists PWM controllers.
const DefaultRoot = "/sys/class/pwm"

// DefaultPeriod is 25 kHz, the PWM frequency 4-wire fans expect.
const DefaultPeriod = 40 * time.Microsecond

// DefaultExportWait bounds how long Open waits for an exported channel's
// directory to appear.
const DefaultExportWait = time.Second

// ErrNoTach reports a fan without a tachometer input.
var ErrNoTach = errors.New("pwm: fan has no tachometer")

// Config selects and sets up one PWM channel.
type Config struct {
	// Root is the sysfs PWM class directory; empty means DefaultRoot.
	Root string
	// Chip and Channel select pwmchip<Chip>/pwm<Channel>.
	Chip, Channel int
	// Period is the PWM period; zero means DefaultPeriod.
	Period time.Duration
	// Invert makes 100 % mean the line is low all the time, for fans
	// driven through an inverting transistor stage.
	Invert bool
	// ExportWait bounds the wait for the channel directory after export;
	// zero means DefaultExportWait.
	ExportWait time.Duration
}

// Channel is an exported, enabled sysfs PWM output.
type Channel struct {
	dir    string
	period time.Duration
	invert bool
}

// Open exports the channel if it is not yet, sets its period with the
// duty cycle at 0 % and enables it.
func Open(cfg Config) (*Channel, error) {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.ExportWait == 0 {
		cfg.ExportWait = DefaultExportWait
	}
	if cfg.Period < 0 || cfg.Chip < 0 || cfg.Channel < 0 {
		return nil, fmt.Errorf("pwm: open chip %d channel %d period %v: invalid", cfg.Chip, cfg.Channel, cfg.Period)
	}
	chip := filepath.Join(cfg.Root, "pwmchip"+strconv.Itoa(cfg.Chip))
	c := &Channel{
		dir:    filepath.Join(chip, "pwm"+strconv.Itoa(cfg.Channel)),
		period: cfg.Period,
		invert: cfg.Invert,
	}
	if err := c.export(chip, cfg.Channel, cfg.ExportWait); err != nil {
		return nil, err
	}
	if err := c.setup(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Channel) export(chip string, channel int, wait time.Duration) error {
	if _, err := os.Stat(c.dir); err == nil {
		return nil
	}
	if _, err := os.Stat(chip); err != nil {
		return fmt.Errorf("pwm: %w", err)
	}
	if err := writeFile(filepath.Join(chip, "export"), strconv.Itoa(channel)); err != nil {
		return fmt.Errorf("pwm: export %s: %w", c.dir, err)
	}
	// The kernel creates the directory at once; udev may take a moment to
	// make its files writable.
	deadline := time.Now().Add(wait)
	for {
		if _, err := os.Stat(filepath.Join(c.dir, "enable")); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pwm: export %s: channel did not appear within %v", c.dir, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// setup writes the period with the duty at zero first, since the kernel
// refuses a period shorter than the current duty cycle.
func (c *Channel) setup() error {
	cur, err := c.readNs("duty_cycle")
	if err != nil {
		return err
	}
	if cur > c.period.Nanoseconds() {
		if err := c.write("duty_cycle", "0"); err != nil {
			return err
		}
	}
	if err := c.write("period", strconv.FormatInt(c.period.Nanoseconds(), 10)); err != nil {
		return err
	}
	if err := c.SetDuty(0); err != nil {
		return err
	}
	return c.write("enable", "1")
}

// Dir returns the channel's sysfs directory.
func (c *Channel) Dir() string { return c.dir }

// SetDuty sets the share of each period the output is active, 0–100 %.
func (c *Channel) SetDuty(percent float64) error {
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return fmt.Errorf("pwm: %s: duty %v%% out of range 0–100", c.dir, percent)
	}
	if c.invert {
		percent = 100 - percent
	}
	ns := int64(math.Round(float64(c.period.Nanoseconds()) * percent / 100))
	return c.write("duty_cycle", strconv.FormatInt(ns, 10))
}

// Duty reads back the duty cycle in percent.
func (c *Channel) Duty() (float64, error) {
	ns, err := c.readNs("duty_cycle")
	if err != nil {
		return 0, err
	}
	p := float64(ns) * 100 / float64(c.period.Nanoseconds())
	if c.invert {
		p = 100 - p
	}
	return p, nil
}

// Close disables the output. It leaves the channel exported.
func (c *Channel) Close() error {
	return c.write("enable", "0")
}

func (c *Channel) write(name, value string) error {
	if err := writeFile(filepath.Join(c.dir, name), value); err != nil {
		return fmt.Errorf("pwm: write %s=%s: %w", filepath.Join(c.dir, name), value, err)
	}
	return nil
}

func (c *Channel) readNs(name string) (int64, error) {
	p := filepath.Join(c.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("pwm: read %s: %w", p, err)
	}
	v, err := ParseNanoseconds(b)
	if err != nil {
		return 0, fmt.Errorf("pwm: read %s: %w", p, err)
	}
	return v, nil
}

// ParseNanoseconds parses a sysfs PWM attribute (period, duty_cycle): a
// non-negative decimal count of nanoseconds and an optional newline.
func ParseNanoseconds(b []byte) (int64, error) {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %q: not a nanosecond count", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("parse %q: negative", s)
	}
	return v, nil
}

// writeFile writes an attribute the way sysfs wants it: one write to an
// existing file, never created.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// Tach reads a fan's speed from wherever the board wires its tachometer.
type Tach interface {
	RPM() (int, error)
}

// Fan is a PWM channel with an optional tachometer. It implements hal.Fan.
type Fan struct {
	ch   *Channel
	tach Tach
}

var _ hal.Fan = (*Fan)(nil)

// NewFan returns a fan driven by ch; tach may be nil, and RPM then returns
// ErrNoTach.
func NewFan(ch *Channel, tach Tach) *Fan { return &Fan{ch: ch, tach: tach} }

// SetDuty sets the fan's PWM duty in percent.
func (f *Fan) SetDuty(percent float64) error { return f.ch.SetDuty(percent) }

// RPM reads the tachometer.
func (f *Fan) RPM() (int, error) {
	if f.tach == nil {
		return 0, ErrNoTach
	}
	return f.tach.RPM()
}
