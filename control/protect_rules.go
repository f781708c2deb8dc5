package control

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// reading is one period's view of a chain.
type reading struct {
	temp        float64
	tempErr     error // nil, ErrUnsupported or the failure
	vMeas, vSet float64
	vErr        error
}

// evaluate reads the plant once and applies every rule to every chain.
// The readings are taken without the lock; the actions under it.
func (g *Guard) evaluate(now time.Time) {
	n := max(g.plant.Chains(), 0)
	_, stalled := g.plant.Fans()
	rs := make([]reading, n)
	for i := range rs {
		r := &rs[i]
		r.temp, r.tempErr = g.plant.Temperature(i)
		r.vMeas, r.vSet, r.vErr = g.plant.Voltage(i)
	}
	g.mu.Lock()
	g.resize(n, now)
	for i, r := range rs {
		g.evalChain(now, i, r, stalled)
	}
	g.mu.Unlock()
	g.deliver()
}

// resize follows the plant's chain count; new chains are taken as
// running at their tuned point. Called with mu held.
func (g *Guard) resize(n int, now time.Time) {
	if n < len(g.chains) {
		g.chains = g.chains[:n]
	}
	for len(g.chains) < n {
		g.chains = append(g.chains, chainGuard{state: StateOK, factor: 1, applied: 1, startedAt: now})
	}
}

// evalChain applies the rules to chain i. Called with mu held.
func (g *Guard) evalChain(now time.Time, i int, r reading, stalled []int) {
	c := &g.chains[i]
	sensor := g.sensorFault(c, r)
	running := c.state == StateOK || c.state == StateThrottled
	fault := g.dangerFault(r) // named first when a jump ends there
	if fault == "" {
		fault = sensor
	}
	if fault == "" {
		fault = g.hardFault(c, r, stalled, running, now)
	}
	if running {
		if fault != "" {
			g.stop(now, i, fault)
			return
		}
		g.throttle(now, i, r)
		return
	}
	g.recover(now, i, r, sensor, stalled)
}

// sensorFault judges the temperature reading and remembers it for the
// next period's jump test; "" means believable (or not supported).
func (g *Guard) sensorFault(c *chainGuard, r reading) string {
	l := g.limits
	switch {
	case errors.Is(r.tempErr, ErrUnsupported):
		c.haveTemp = false
		return ""
	case r.tempErr != nil:
		c.haveTemp = false
		return fmt.Sprintf("temperature sensor failed: %v", r.tempErr)
	case !(r.temp >= l.MinValidC && r.temp <= l.MaxValidC):
		c.haveTemp = false
		return fmt.Sprintf("temperature sensor reads %.1f °C, outside %v…%v °C", r.temp, l.MinValidC, l.MaxValidC)
	}
	prev, had := c.lastTemp, c.haveTemp
	c.lastTemp, c.haveTemp = r.temp, true
	if had && math.Abs(r.temp-prev) > l.MaxJumpC {
		return fmt.Sprintf("temperature sensor jumped from %.1f to %.1f °C in one period", prev, r.temp)
	}
	return ""
}

// dangerFault reports a believable temperature at or above the danger
// limit; "" means none.
func (g *Guard) dangerFault(r reading) string {
	l := g.limits
	if r.tempErr == nil && r.temp >= l.DangerousC && r.temp <= l.MaxValidC {
		return fmt.Sprintf("temperature %.1f °C at or above the %v °C limit", r.temp, l.DangerousC)
	}
	return ""
}

// hardFault is the reason to stop a chain other than its temperature: a
// stalled fan, or (while running, after the start grace) a core voltage
// off its setpoint. "" means none.
func (g *Guard) hardFault(c *chainGuard, r reading, stalled []int, running bool, now time.Time) string {
	l := g.limits
	if len(stalled) > 0 {
		return fmt.Sprintf("fan stalled (fans %v)", stalled)
	}
	if !running || now.Sub(c.startedAt) < l.StartGrace || errors.Is(r.vErr, ErrUnsupported) {
		return ""
	}
	if r.vErr != nil {
		return fmt.Sprintf("core voltage unreadable: %v", r.vErr)
	}
	if !(r.vSet > 0) || math.IsInf(r.vSet, 0) {
		return "" // no setpoint to judge against
	}
	if !(math.Abs(r.vMeas-r.vSet) <= l.VoltageTolerance*r.vSet) {
		return fmt.Sprintf("core voltage %.0f mV, setpoint %.0f mV ± %.0f %%", r.vMeas, r.vSet, 100*l.VoltageTolerance)
	}
	return ""
}

// stop stops chain i for reason, locking it when its restarts in the
// window are used up. Called with mu held.
func (g *Guard) stop(now time.Time, i int, reason string) {
	c := &g.chains[i]
	l := g.limits
	c.factor, c.reason, c.clearSince = 1, reason, time.Time{}
	c.restarts = pruneBefore(c.restarts, now.Add(-l.RestartWindow))
	if l.MaxRestarts < 0 || len(c.restarts) >= l.MaxRestarts {
		c.state = StateLocked
		g.emit(now, LevelError, "lock", i, fmt.Sprintf("chain %d stopped and locked after %d restarts in %v: %s",
			i, len(c.restarts), l.RestartWindow, reason))
	} else {
		c.state = StateStopped
		g.emit(now, LevelError, "stop", i, fmt.Sprintf("chain %d stopped: %s", i, reason))
	}
	g.tryStop(now, i)
}

// tryStop asks the plant to stop chain i, and remembers a failure so that
// the next period tries again. Called with mu held.
func (g *Guard) tryStop(now time.Time, i int) {
	c := &g.chains[i]
	err := g.plant.Stop(i)
	if err != nil && !c.stopPending {
		g.emit(now, LevelError, "stop_failed", i, fmt.Sprintf("chain %d could not be stopped (retrying): %v", i, err))
	}
	c.stopPending = err != nil
}

// throttle moves a running chain's frequency factor one step down while
// it is hot, one step up once it is Hysteresis below hot, and holds it in
// between, so a temperature hovering at the threshold cannot make the
// chain flap. Called with mu held.
func (g *Guard) throttle(now time.Time, i int, r reading) {
	c := &g.chains[i]
	l := g.limits
	if r.tempErr != nil {
		return // no temperature on this board
	}
	want := c.factor
	switch {
	case r.temp >= l.HotC:
		want = max(l.MinFactor, want-l.ThrottleStep)
	case r.temp < l.HotC-l.HysteresisC:
		want = min(1, want+l.ThrottleStep)
	}
	c.factor = math.Round(want*1e6) / 1e6
	if c.factor != c.applied {
		if err := g.plant.Throttle(i, c.factor); err != nil {
			g.log.Warn("throttle", "chain", i, "factor", c.factor, "err", err)
		} else {
			c.applied = c.factor
		}
	}
	switch {
	case c.factor < 1 && c.state == StateOK:
		c.state = StateThrottled
		c.reason = fmt.Sprintf("temperature %.1f °C at or above %v °C", r.temp, l.HotC)
		g.emit(now, LevelWarn, "throttle", i, fmt.Sprintf("chain %d throttled to %.0f %%: %s", i, 100*c.factor, c.reason))
	case c.factor >= 1 && c.state == StateThrottled:
		c.state, c.reason = StateOK, ""
		g.emit(now, LevelInfo, "unthrottle", i, fmt.Sprintf("chain %d back to full speed at %.1f °C", i, r.temp))
	}
}

// recover restarts a stopped chain once its causes have stayed clear for
// RecoverAfter: a believable temperature Hysteresis under hot (when the
// board has one) and no stalled fan. A voltage fault cannot be judged on
// an unpowered chain, so it clears by waiting. Called with mu held.
func (g *Guard) recover(now time.Time, i int, r reading, sensor string, stalled []int) {
	c := &g.chains[i]
	l := g.limits
	if c.stopPending {
		g.tryStop(now, i)
	}
	clear := sensor == "" && len(stalled) == 0 && (r.tempErr != nil || r.temp < l.HotC-l.HysteresisC)
	switch {
	case !clear:
		c.clearSince = time.Time{}
		return
	case c.clearSince.IsZero():
		c.clearSince = now
	}
	if c.state != StateStopped || c.stopPending || now.Sub(c.clearSince) < l.RecoverAfter {
		return
	}
	c.restarts = pruneBefore(c.restarts, now.Add(-l.RestartWindow))
	if l.MaxRestarts < 0 || len(c.restarts) >= l.MaxRestarts {
		c.state = StateLocked
		g.emit(now, LevelError, "lock", i, fmt.Sprintf("chain %d locked: %d restarts in %v", i, len(c.restarts), l.RestartWindow))
		return
	}
	c.restarts = append(c.restarts, now)
	if err := g.plant.Start(i); err != nil {
		c.clearSince = now // try again after another RecoverAfter
		g.emit(now, LevelError, "restart_failed", i, fmt.Sprintf("chain %d could not be restarted: %v", i, err))
		return
	}
	g.emit(now, LevelWarn, "restart", i, fmt.Sprintf("chain %d restarted (%d of %d in %v) after: %s",
		i, len(c.restarts), l.MaxRestarts, l.RestartWindow, c.reason))
	c.state, c.reason, c.factor, c.applied, c.startedAt = StateOK, "", 1, 1, now
	c.clearSince = time.Time{}
}

// pruneBefore drops the times before cut from the sorted ts.
func pruneBefore(ts []time.Time, cut time.Time) []time.Time {
	k := 0
	for k < len(ts) && ts[k].Before(cut) {
		k++
	}
	return ts[k:]
}
