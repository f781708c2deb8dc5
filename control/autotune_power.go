package control

import (
	"context"
	"fmt"
	"math"
)

// stepPower measures the board at the current scale of the base
// frequencies and aims the next scale at the target: proportionally
// first, then by the secant through the last two points (power is close
// to linear in frequency at a fixed voltage: Pidle + Cdyn·f·V²).
func (t *Tuner) stepPower(ctx context.Context, p *Progress) error {
	ps := p.Power
	mhz := t.scaled(p.Base, ps.Scale)
	// One sample lets the power settle; the error counts of the chosen
	// point are taken in full when it is verified.
	pt, ok, err := t.measurePoint(ctx, &ps.M, mhz, p.StartMV, ps.Scale, 0)
	if err != nil || !ok {
		return err
	}
	ps.Points, ps.M = append(ps.Points, pt), Measure{}
	next, final, note := t.nextScale(ps)
	if final {
		t.choose(p, t.scaled(p.Base, next), p.StartMV, note)
		return nil
	}
	ps.Scale = next
	return nil
}

// nextScale is the scale to measure next, or (final) the one to keep.
func (t *Tuner) nextScale(ps *PowerSearch) (scale float64, final bool, note string) {
	target, tol := t.cfg.TargetW, t.cfg.PowerTolerance
	last := ps.Points[len(ps.Points)-1]
	if math.Abs(last.PowerW-target) <= tol*target {
		return last.Scale, true, ""
	}
	if len(ps.Points) >= t.cfg.MaxPowerSteps {
		best := last
		for _, pt := range ps.Points {
			if math.Abs(pt.PowerW-target) < math.Abs(best.PowerW-target) {
				best = pt
			}
		}
		return best.Scale, true, fmt.Sprintf("closest to %v W in %d steps: %.1f W", target, len(ps.Points), best.PowerW)
	}
	next := last.Scale * target / last.PowerW
	if n := len(ps.Points); n >= 2 {
		prev := ps.Points[n-2]
		if slope := (last.PowerW - prev.PowerW) / (last.Scale - prev.Scale); slope > 0 && !math.IsInf(slope, 0) {
			next = last.Scale + (target-last.PowerW)/slope
		}
	}
	next = math.Max(ps.MinScale, math.Min(ps.MaxScale, next))
	if next == last.Scale { // pinned at an end of the range
		where := "highest"
		if last.PowerW > target {
			where = "lowest"
		}
		return last.Scale, true, fmt.Sprintf("target %v W out of reach: %.1f W at the %s clocks", target, last.PowerW, where)
	}
	return next, false, ""
}

// stepEfficiency measures the starting point, then for each scale of the
// grid bisects the lowest voltage at which every chip stays within the
// error budget and measures the power there (with VoltageMarginMV added);
// the point with the fewest J/TH wins.
func (t *Tuner) stepEfficiency(ctx context.Context, p *Progress) error {
	e := p.Efficiency
	if e.Stage == effBaseline {
		return t.stepBaseline(ctx, p)
	}
	mhz := t.scaled(p.Base, e.Scales[e.Index])
	if e.Stage == effPower {
		mv := t.floorVoltage(e)
		pt, ok, err := t.measurePoint(ctx, &e.M, mhz, mv, e.Scales[e.Index], t.cfg.MinNonces)
		if err != nil || !ok {
			return err
		}
		e.Points = append(e.Points, pt)
		// The next, slower point runs clean at this voltage.
		t.nextGridPoint(p, mv, effLo)
		return nil
	}
	probe := map[string]float64{effHi: e.Hi, effLo: e.Lo, effBisect: (e.Lo + e.Hi) / 2}[e.Stage]
	ok, err := t.measure(ctx, &e.M, mhz, probe, t.cfg.MinNonces)
	if err != nil || !ok {
		return err
	}
	good := t.clean(e.M)
	e.M = Measure{}
	switch e.Stage {
	case effHi:
		if !good { // not clean even at the top: skip this point
			t.nextGridPoint(p, e.Top, effHi)
			return nil
		}
		e.Stage = effLo
	case effLo:
		if good {
			e.Hi, e.Stage = e.Lo, effPower
			return nil
		}
		e.Stage = effBisect
	case effBisect:
		if good {
			e.Hi = probe
		} else {
			e.Lo = probe
		}
	}
	if e.Stage == effBisect && e.Hi-e.Lo <= t.cfg.VoltageStepMV {
		e.Stage = effPower
	}
	return nil
}

// stepBaseline measures the starting point and lays out the grid.
func (t *Tuner) stepBaseline(ctx context.Context, p *Progress) error {
	e := p.Efficiency
	start := make([]float64, t.chips)
	for i := range start {
		start[i] = p.StartMHz
	}
	pt, ok, err := t.measurePoint(ctx, &e.M, start, p.StartMV, p.StartMHz/maxOf(p.Base), t.cfg.MinNonces)
	if err != nil || !ok {
		return err
	}
	e.Baseline, e.M = &pt, Measure{}
	n := t.cfg.GridPoints
	e.Scales = make([]float64, n)
	for k := range e.Scales {
		e.Scales[k] = 1 - float64(k)*(1-t.cfg.MinScale)/float64(n-1)
	}
	e.Index, e.Top, e.Hi, e.Lo, e.Stage = 0, p.StartMV, p.StartMV, t.minMV, effHi
	return nil
}

// floorVoltage is the voltage to run a grid point at: the lowest clean
// voltage found plus the margin, within the top; the regulator's minimum
// itself when that was clean.
func (t *Tuner) floorVoltage(e *EffSearch) float64 {
	if e.Hi == t.minMV {
		return e.Hi
	}
	return math.Min(e.Top, e.Hi+t.cfg.VoltageMarginMV)
}

// nextGridPoint moves to the next scale, whose search starts at stage
// with hi as the known-clean (effLo) or to-be-tried (effHi) top; after
// the last scale it chooses the best point.
func (t *Tuner) nextGridPoint(p *Progress, hi float64, stage string) {
	e := p.Efficiency
	e.Index++
	e.Hi, e.Lo, e.Stage, e.M = hi, t.minMV, stage, Measure{}
	if e.Index < len(e.Scales) {
		return
	}
	best := e.Baseline
	for k := range e.Points {
		if best == nil || e.Points[k].JPerTH < best.JPerTH {
			best = &e.Points[k]
		}
	}
	if best == nil || best == e.Baseline {
		start := make([]float64, t.chips)
		for i := range start {
			start[i] = p.StartMHz
		}
		t.choose(p, start, p.StartMV, "no grid point beat the starting point")
		return
	}
	t.choose(p, t.scaled(p.Base, best.Scale), best.VoltageMV, "")
}
