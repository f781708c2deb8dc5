package bm13xx

import (
	"fmt"
	"math"
	"time"
)

// Per-chip clocks. The chain ramps every chip to ChainConfig.FrequencyMHz
// by broadcast at init; afterwards each chip can be given a clock of its
// own (autotuning) and the whole chain a throttle factor (thermal
// protection). The clock loop of a mining session walks each chip towards
// target × throttle in rampStepMHz steps, one step per RampStep, with
// register writes addressed to that chip alone.

// SetChipFrequency sets the clock chip i (its index on the chain) is
// walked to. It fails for an index past the chips found, or a frequency
// the model's PLL cannot make.
func (c *Chain) SetChipFrequency(i int, mhz float64) error {
	if _, _, err := PLL(c.cfg.Model, mhz); err != nil {
		return fmt.Errorf("bm13xx: chain %d: chip %d: %w", c.cfg.Index, i, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.chips) {
		return fmt.Errorf("bm13xx: chain %d: no chip %d (%d found): %w", c.cfg.Index, i, len(c.chips), ErrRange)
	}
	c.chips[i].target = mhz
	return nil
}

// SetFrequency sets every chip's clock target to mhz, and the frequency a
// re-initialisation ramps to.
func (c *Chain) SetFrequency(mhz float64) error {
	if _, _, err := PLL(c.cfg.Model, mhz); err != nil {
		return fmt.Errorf("bm13xx: chain %d: %w", c.cfg.Index, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.FrequencyMHz = mhz
	for _, ch := range c.chips {
		ch.target = mhz
	}
	return nil
}

// SetThrottle runs every chip at factor × its target clock, factor in
// (0, 1]; 1 lifts the throttle.
func (c *Chain) SetThrottle(factor float64) error {
	if !(factor > 0 && factor <= 1) {
		return fmt.Errorf("bm13xx: chain %d: throttle %v outside (0, 1]: %w", c.cfg.Index, factor, ErrRange)
	}
	c.mu.Lock()
	c.throttle = factor
	c.mu.Unlock()
	return nil
}

// Throttle returns the throttle factor in force.
func (c *Chain) Throttle() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.throttleFactor()
}

func (c *Chain) throttleFactor() float64 {
	if c.throttle == 0 {
		return 1
	}
	return c.throttle
}

// clockStep is one register write of the clock loop.
type clockStep struct {
	addr byte
	reg  uint32
	mhz  float64
	chip int
}

// nextClockSteps returns, for each chip not at its wanted clock, the next
// ramp step towards it.
func (c *Chain) nextClockSteps() []clockStep {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.throttleFactor()
	var out []clockStep
	for i, ch := range c.chips {
		target := ch.target
		if target == 0 {
			target = c.cfg.FrequencyMHz
		}
		want := target * f
		if math.Abs(want-ch.freqMHz) < 0.01 {
			continue
		}
		reg, actual, err := PLL(c.cfg.Model, rampSteps(ch.freqMHz, want)[0])
		if err != nil || math.Abs(actual-ch.freqMHz) < 0.01 {
			continue // below the PLL's range, or as close as it gets: hold
		}
		out = append(out, clockStep{addr: ch.addr, reg: reg, mhz: actual, chip: i})
	}
	return out
}

// applyClock records that chip i now runs at mhz.
func (c *Chain) applyClock(i int, mhz float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < len(c.chips) {
		c.chips[i].freqMHz = mhz
	}
}

// maxChipFrequency is the fastest chip's clock, for job pacing.
func (c *Chain) maxChipFrequency() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	best := c.freqMHz
	for _, ch := range c.chips {
		best = max(best, ch.freqMHz)
	}
	return best
}

// clockLoop walks chips towards their wanted clocks while mining.
func (s *session) clockLoop() {
	t := time.NewTicker(s.c.cfg.RampStep)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		for _, st := range s.c.nextClockSteps() {
			if !s.m.PostDivMinusOne {
				if s.send(WriteChip(st.addr, RegPLL0Divider, 0x0f0f0f00)) != nil {
					return
				}
			}
			if s.send(WriteChip(st.addr, RegPLL0, st.reg)) != nil {
				return
			}
			s.c.applyClock(st.chip, st.mhz)
		}
	}
}
