package control

import (
	"fmt"
	"math"
	"time"
)

// PIDGains are the fan controller's gains. The error is the temperature
// over the target (a hot chip asks for more duty), so all gains are
// positive:
//
//	duty = Kp·e + Ki·∫e dt + Kd·dT/dt
//
// Kp is in percent of duty per °C, Ki in percent per °C·s and Kd in percent
// per °C/s of temperature rise. The derivative acts on the measurement,
// not on the error, so a new target moves the duty through the
// proportional and integral terms only (no kick), and it is smoothed by a
// first-order filter of time constant DerivFilter so that a sensor's
// quantisation steps do not reach the fans.
type PIDGains struct {
	Kp, Ki, Kd  float64
	DerivFilter time.Duration
}

// DefaultGains suit a hash board whose die temperature answers a duty
// change with a lag of 5 to 60 s and moves by 0.2–0.6 °C per percent of
// duty: the proportional term alone turns a 5 °C error into 20 % more
// duty, the integral time Kp/Ki is 16 s, and the derivative time Kd/Kp is
// 1 s (enough to brake an approach to the target, short enough not to
// amplify sensor noise).
var DefaultGains = PIDGains{Kp: 4, Ki: 0.25, Kd: 4, DerivFilter: 2 * time.Second}

// check validates the gains.
func (g PIDGains) check() error {
	for _, v := range []float64{g.Kp, g.Ki, g.Kd} {
		if !(v >= 0 && v <= 1000) {
			return fmt.Errorf("%w: gain %v outside 0–1000", ErrBadPolicy, v)
		}
	}
	if g.DerivFilter < 0 {
		return fmt.Errorf("%w: negative derivative filter %v", ErrBadPolicy, g.DerivFilter)
	}
	return nil
}

// pid is one PID controller with integrator clamping (anti-windup) and a
// filtered derivative on the measurement. The integral is kept in the
// output's units (percent of duty), so it can be preset for a bumpless
// start.
type pid struct {
	g        PIDGains
	integral float64 // percent of duty
	last     float64 // previous measurement
	deriv    float64 // filtered dT/dt, °C/s
	primed   bool    // last holds a measurement
}

// preset makes the next output continue from out given measurement meas
// and target: the integral takes whatever the proportional term leaves.
// On a cold start (out at the floor, meas well under target) that is a
// high integral, held while the output stays at the floor: the fans then
// start to rise some degrees before the target is reached, which keeps
// the overshoot of a warm-up small, and the integral unwinds once there.
func (p *pid) preset(out, meas, target, lo, hi float64) {
	p.integral = clamp(out-p.g.Kp*(meas-target), lo, hi)
	p.last, p.deriv, p.primed = meas, 0, true
}

// update returns the output for measurement meas after dt seconds,
// clamped to [lo, hi].
func (p *pid) update(meas, target, dt, lo, hi float64) float64 {
	if !p.primed {
		p.preset(lo, meas, target, lo, hi)
	}
	if dt > 0 {
		raw := (meas - p.last) / dt
		tf := p.g.DerivFilter.Seconds()
		p.deriv += (raw - p.deriv) * dt / (tf + dt)
	}
	p.last = meas
	e := meas - target
	pd := p.g.Kp*e + p.g.Kd*p.deriv
	// Anti-windup: at the ceiling, integrate only up to the point where
	// the output saturates; at the floor, hold the integral. Never go
	// beyond the output range.
	next := p.integral + p.g.Ki*e*dt
	switch {
	case e > 0 && pd+next > hi:
		next = max(p.integral, hi-pd)
	case e < 0 && pd+next < lo:
		next = p.integral
	}
	p.integral = clamp(next, lo, hi)
	return clamp(pd+p.integral, lo, hi)
}

// clamp bounds v to [lo, hi]; NaN becomes hi (the safe side for a fan).
func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) {
		return hi
	}
	return math.Min(hi, math.Max(lo, v))
}
