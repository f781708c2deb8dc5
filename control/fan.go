// Package control runs the loops that keep the hardware safe and make the
// most of it: the fan loop (a PID controller on the hottest temperature,
// with tachometer monitoring), the protection guard (throttle, stop and
// restart chains on heat, sensor, fan and voltage faults) and the
// autotuner (per-chip frequency limits, a power target, best efficiency).
// Each works through a small interface defined here, so the same code
// drives the simulated board in tests and the hardware in service.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/kilnfw/kiln/hal"
)

// Fan modes.
const (
	// ModeAuto holds the hottest temperature at the policy's target.
	ModeAuto = "auto"
	// ModeManual holds the fans at the policy's duty.
	ModeManual = "manual"
	// ModeImmersion is for boards cooled by liquid: there are no fans to
	// drive, the duty is 0 and the fans are never written or watched.
	// Protection still watches the temperatures.
	ModeImmersion = "immersion"
)

// Fan loop constants.
const (
	// FanPeriod is how often the loop reads the temperature and sets the
	// duty.
	FanPeriod = time.Second
	// TachPeriod is how often the loop reads the tachometers, so that a
	// stalled fan is seen within StallAfter plus one period.
	TachPeriod = 250 * time.Millisecond
	// DefaultMinDuty keeps air moving in automatic mode even when cold.
	DefaultMinDuty = 20
	// DefaultMaxDuty is the automatic mode's ceiling.
	DefaultMaxDuty = 100
	// DefaultRPMPerPercent is the tachometer reading expected per percent
	// of duty (the simulated board's fans).
	DefaultRPMPerPercent = 60
	// DefaultStallFraction is the share of the expected RPM below which a
	// fan counts as stalled.
	DefaultStallFraction = 0.1
	// DefaultStallAfter is how long a fan must read low before it counts
	// as stalled: long enough for a fan to spin up from rest.
	DefaultStallAfter = time.Second
	// stallMinDuty is the duty below which fans are not watched (they may
	// legitimately stand still).
	stallMinDuty = 10
	// hotMargin above the target sends the fans to full at once.
	hotMargin = 15
)

// ErrBadPolicy is returned for a policy outside its bounds.
var ErrBadPolicy = errors.New("control: bad fan policy")

// FanPolicy is what the owner asks of the fans.
type FanPolicy struct {
	Mode    string  // ModeAuto, ModeManual or ModeImmersion
	TargetC float64 // ModeAuto: temperature to hold
	Percent float64 // ModeManual: duty, 0–100
	// MinPercent and MaxPercent bound the automatic mode's duty; 0 means
	// DefaultMinDuty and DefaultMaxDuty.
	MinPercent, MaxPercent float64
}

// Check validates the policy.
func (p FanPolicy) Check() error {
	switch p.Mode {
	case ModeAuto:
		if !(p.TargetC >= 30 && p.TargetC <= 100) {
			return fmt.Errorf("%w: target %v °C outside 30–100", ErrBadPolicy, p.TargetC)
		}
	case ModeManual:
		if !(p.Percent >= 0 && p.Percent <= 100) {
			return fmt.Errorf("%w: duty %v %% outside 0–100", ErrBadPolicy, p.Percent)
		}
	case ModeImmersion:
	default:
		return fmt.Errorf("%w: mode %q", ErrBadPolicy, p.Mode)
	}
	for _, v := range []float64{p.MinPercent, p.MaxPercent} {
		if !(v >= 0 && v <= 100) {
			return fmt.Errorf("%w: duty bound %v %% outside 0–100", ErrBadPolicy, v)
		}
	}
	if lo, hi := p.dutyRange(); lo >= hi {
		return fmt.Errorf("%w: minimum duty %v %% not below maximum %v %%", ErrBadPolicy, lo, hi)
	}
	return nil
}

// dutyRange is the automatic mode's output range.
func (p FanPolicy) dutyRange() (lo, hi float64) {
	lo, hi = DefaultMinDuty, DefaultMaxDuty
	if p.MinPercent > 0 {
		lo = p.MinPercent
	}
	if p.MaxPercent > 0 {
		hi = p.MaxPercent
	}
	return lo, hi
}

// FanConfig configures a FanLoop. Zero fields take the defaults.
type FanConfig struct {
	// Fans returns the fans to drive now (the hardware may come and go).
	Fans func() []hal.Fan
	// Hottest returns the hottest temperature now, and false when there
	// is no reading (the loop then runs the fans at the maximum duty).
	Hottest func() (float64, bool)
	// Policy is the policy in force at the start.
	Policy FanPolicy
	// Gains are the PID gains; zero means DefaultGains.
	Gains PIDGains
	// RPMPerPercent is the tachometer reading expected per percent of
	// duty; 0 means DefaultRPMPerPercent.
	RPMPerPercent float64
	// StallFraction of the expected RPM, or a reading of 0, is a fan too
	// slow; 0 means DefaultStallFraction.
	StallFraction float64
	// StallAfter is how long a fan must stay too slow to count as
	// stalled; 0 means DefaultStallAfter.
	StallAfter time.Duration
	// Log receives warnings; nil discards them.
	Log *slog.Logger
}

// withDefaults fills the zero fields and validates the rest.
func (c FanConfig) withDefaults() (FanConfig, error) {
	if c.Fans == nil || c.Hottest == nil {
		return c, fmt.Errorf("%w: no fans or temperature input", ErrBadPolicy)
	}
	if err := c.Policy.Check(); err != nil {
		return c, err
	}
	if c.Gains == (PIDGains{}) {
		c.Gains = DefaultGains
	}
	if err := c.Gains.check(); err != nil {
		return c, err
	}
	if c.RPMPerPercent == 0 {
		c.RPMPerPercent = DefaultRPMPerPercent
	}
	if c.StallFraction == 0 {
		c.StallFraction = DefaultStallFraction
	}
	if c.StallAfter == 0 {
		c.StallAfter = DefaultStallAfter
	}
	if !(c.RPMPerPercent > 0) || !(c.StallFraction > 0 && c.StallFraction < 1) || c.StallAfter < 0 {
		return c, fmt.Errorf("%w: tachometer parameters %v rpm/%%, %v, %v", ErrBadPolicy,
			c.RPMPerPercent, c.StallFraction, c.StallAfter)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// FanLoop drives a set of fans from a temperature reading and watches
// their tachometers. Set, Policy, Duty, RPMs and Stalled are safe from any
// goroutine; Run owns the fans.
type FanLoop struct {
	cfg     FanConfig
	changed chan struct{}

	mu       sync.Mutex
	policy   FanPolicy
	duty     float64
	ctl      pid
	fresh    bool      // the next automatic step starts bumpless from duty
	lastStep time.Time // when the duty was last computed
	tach     []tachState
}

// tachState is what the loop knows of one fan's tachometer.
type tachState struct {
	rpm      int
	low      bool      // the last reading was too slow
	lowSince time.Time // since when it has been too slow
	stalled  bool
}

// NewFanLoop returns a loop over fans with policy in force and the default
// gains and tachometer parameters; it does nothing until Run.
func NewFanLoop(fans func() []hal.Fan, hottest func() (float64, bool), policy FanPolicy, log *slog.Logger) (*FanLoop, error) {
	return NewFanLoopConfig(FanConfig{Fans: fans, Hottest: hottest, Policy: policy, Log: log})
}

// NewFanLoopConfig returns a loop configured by cfg; it does nothing until
// Run.
func NewFanLoopConfig(cfg FanConfig) (*FanLoop, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &FanLoop{cfg: cfg, policy: cfg.Policy, duty: DefaultMaxDuty, ctl: pid{g: cfg.Gains},
		changed: make(chan struct{}, 1)}
	if cfg.Policy.Mode == ModeImmersion {
		l.duty = 0
	}
	return l, nil
}

// Set changes the policy; the loop applies it at once. The automatic mode
// starts from the duty in force (no jump).
func (l *FanLoop) Set(p FanPolicy) error {
	if err := p.Check(); err != nil {
		return err
	}
	l.mu.Lock()
	l.policy, l.fresh = p, true
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// Policy returns the policy in force.
func (l *FanLoop) Policy() FanPolicy {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.policy
}

// Duty returns the duty last commanded, in percent (0 in immersion).
func (l *FanLoop) Duty() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.duty
}

// RPMs returns each fan's last tachometer reading (0 for a failed read);
// empty in immersion.
func (l *FanLoop) RPMs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int, len(l.tach))
	for i, t := range l.tach {
		out[i] = t.rpm
	}
	return out
}

// Fans returns the tachometer readings and the stalled fans together,
// in the shape Plant.Fans asks for.
func (l *FanLoop) Fans() (rpm []int, stalled []int) {
	return l.RPMs(), l.Stalled()
}

// Stalled returns the indexes of the fans whose tachometer has read below
// StallFraction of the RPM expected at the duty (or 0, or failed) for
// StallAfter or longer while the duty was at least 10 %. It is empty in
// immersion.
func (l *FanLoop) Stalled() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for i, t := range l.tach {
		if t.stalled {
			out = append(out, i)
		}
	}
	return out
}

// Run drives the fans every FanPeriod (and at once after Set) and reads
// their tachometers every TachPeriod until ctx ends. It returns nil then;
// a fan that refuses a duty is logged, not fatal.
func (l *FanLoop) Run(ctx context.Context) error {
	t := time.NewTicker(TachPeriod)
	defer t.Stop()
	force := true
	for {
		l.tick(time.Now(), force)
		force = false
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-l.changed:
			force = true
		}
	}
}

// tick reads the tachometers and, when a period has passed or force is
// set, computes and applies a new duty.
func (l *FanLoop) tick(now time.Time, force bool) {
	fans := l.cfg.Fans()
	temp, ok := l.cfg.Hottest()
	l.mu.Lock()
	drive := false
	if force || l.lastStep.IsZero() || now.Sub(l.lastStep) >= FanPeriod {
		dt := 0.0
		if !l.lastStep.IsZero() {
			dt = now.Sub(l.lastStep).Seconds()
		}
		l.duty, l.lastStep = l.next(temp, ok, dt), now
		drive = l.policy.Mode != ModeImmersion
	}
	duty, immersion := l.duty, l.policy.Mode == ModeImmersion
	l.mu.Unlock()
	if immersion {
		l.mu.Lock()
		l.tach = nil
		l.mu.Unlock()
		return
	}
	rpms := make([]int, len(fans))
	failed := make([]bool, len(fans))
	for i, f := range fans {
		if drive {
			if err := f.SetDuty(duty); err != nil {
				l.cfg.Log.Warn("fan duty", "fan", i, "duty", duty, "err", err)
			}
		}
		rpm, err := f.RPM()
		if err != nil {
			l.cfg.Log.Debug("fan tachometer", "fan", i, "err", err)
			failed[i] = true
		}
		rpms[i] = max(rpm, 0)
	}
	l.mu.Lock()
	l.watch(now, duty, rpms, failed)
	l.mu.Unlock()
}

// watch updates the stall detection with one reading per fan; called with
// mu held.
func (l *FanLoop) watch(now time.Time, duty float64, rpms []int, failed []bool) {
	if len(l.tach) != len(rpms) {
		l.tach = make([]tachState, len(rpms)) // the fans changed: start over
	}
	threshold := l.cfg.StallFraction * l.cfg.RPMPerPercent * duty
	for i, rpm := range rpms {
		t := &l.tach[i]
		t.rpm = rpm
		low := duty >= stallMinDuty && (failed[i] || rpm == 0 || float64(rpm) < threshold)
		switch {
		case !low:
			t.low, t.stalled = false, false
		case !t.low:
			t.low, t.lowSince = true, now
		}
		t.stalled = t.low && now.Sub(t.lowSince) >= l.cfg.StallAfter
	}
}

// next is the duty for a temperature reading dt seconds after the last
// one; called with mu held.
func (l *FanLoop) next(temp float64, ok bool, dt float64) float64 {
	p := l.policy
	switch p.Mode {
	case ModeImmersion:
		return 0
	case ModeManual:
		return p.Percent
	}
	lo, hi := p.dutyRange()
	if !ok || math.IsNaN(temp) || temp-p.TargetC > hotMargin {
		l.fresh = true // blind or far too hot: full, then come down smoothly
		return hi
	}
	if l.fresh {
		l.ctl.preset(clamp(l.duty, lo, hi), temp, p.TargetC, lo, hi)
		l.fresh = false
	}
	out := l.ctl.update(temp, p.TargetC, dt, lo, hi)
	return math.Round(out*10) / 10
}
