// Package control runs the loops that keep the hardware safe: the fan
// loop here, which holds the hottest chain at a target temperature or the
// fans at a fixed duty.
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
)

// Fan loop constants. The gains suit a board whose temperature answers a
// duty change within tens of seconds.
const (
	// FanPeriod is how often the loop reads the temperature and sets the
	// duty.
	FanPeriod = time.Second
	// MinAutoDuty keeps air moving in automatic mode even when cold.
	MinAutoDuty = 20
	kp          = 4.0  // percent of duty per °C over target
	ki          = 0.25 // percent of duty per °C·s over target
	// hotMargin above the target sends the fans to full at once.
	hotMargin = 15
)

// ErrBadPolicy is returned for a policy outside its bounds.
var ErrBadPolicy = errors.New("control: bad fan policy")

// FanPolicy is what the owner asks of the fans.
type FanPolicy struct {
	Mode    string  // ModeAuto or ModeManual
	TargetC float64 // ModeAuto: temperature to hold
	Percent float64 // ModeManual: duty, 0–100
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
	default:
		return fmt.Errorf("%w: mode %q", ErrBadPolicy, p.Mode)
	}
	return nil
}

// FanLoop drives a set of fans from a temperature reading. Set and Duty
// are safe from any goroutine; Run owns the fans.
type FanLoop struct {
	// fans returns the fans to drive now (the hardware may come and go).
	fans func() []hal.Fan
	// hottest returns the hottest temperature now, and false when there
	// is no reading (the loop then runs the fans at full duty).
	hottest func() (float64, bool)
	log     *slog.Logger

	mu       sync.Mutex
	policy   FanPolicy
	duty     float64
	integral float64
	changed  chan struct{}
}

// NewFanLoop returns a loop over fans with policy in force; it does
// nothing until Run.
func NewFanLoop(fans func() []hal.Fan, hottest func() (float64, bool), policy FanPolicy, log *slog.Logger) (*FanLoop, error) {
	if err := policy.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FanLoop{fans: fans, hottest: hottest, log: log, policy: policy, duty: 100,
		changed: make(chan struct{}, 1)}, nil
}

// Set changes the policy; the loop applies it at once.
func (l *FanLoop) Set(p FanPolicy) error {
	if err := p.Check(); err != nil {
		return err
	}
	l.mu.Lock()
	l.policy, l.integral = p, 0
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

// Duty returns the duty last commanded, in percent.
func (l *FanLoop) Duty() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.duty
}

// Run drives the fans every FanPeriod (and at once after Set) until ctx
// ends. It returns nil then; a fan that refuses a duty is logged, not
// fatal.
func (l *FanLoop) Run(ctx context.Context) error {
	t := time.NewTicker(FanPeriod)
	defer t.Stop()
	for {
		l.step(FanPeriod.Seconds())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-l.changed:
		}
	}
}

// step computes and applies one duty; dt is the time since the last step.
func (l *FanLoop) step(dt float64) {
	temp, ok := l.hottest()
	l.mu.Lock()
	duty := l.next(temp, ok, dt)
	l.duty = duty
	l.mu.Unlock()
	for i, f := range l.fans() {
		if err := f.SetDuty(duty); err != nil {
			l.log.Warn("fan duty", "fan", i, "duty", duty, "err", err)
		}
	}
}

// next is the duty for a temperature reading; called with mu held.
func (l *FanLoop) next(temp float64, ok bool, dt float64) float64 {
	p := l.policy
	if p.Mode == ModeManual {
		return p.Percent
	}
	if !ok {
		return 100 // blind: be safe
	}
	e := temp - p.TargetC
	if e > hotMargin {
		l.integral = 0
		return 100
	}
	// Integrate only while the output is not saturated (anti-windup).
	out := MinAutoDuty + kp*e + ki*(l.integral+e*dt)
	if out > MinAutoDuty && out < 100 {
		l.integral += e * dt
	}
	return math.Round(min(100, max(MinAutoDuty, MinAutoDuty+kp*e+ki*l.integral))*10) / 10
}
