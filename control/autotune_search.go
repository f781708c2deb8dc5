package control

import (
	"context"
	"fmt"
	"math"
)

// step takes one measurement and moves p on.
func (t *Tuner) step(ctx context.Context, p *Progress) error {
	switch p.Phase {
	case phaseLimits:
		return t.stepLimits(ctx, p)
	case phasePower:
		return t.stepPower(ctx, p)
	case phaseEfficiency:
		return t.stepEfficiency(ctx, p)
	case phaseVerify:
		return t.stepVerify(ctx, p)
	}
	return fmt.Errorf("%w: phase %q", ErrBadTuning, p.Phase)
}

// stepLimits measures every chip still searching at its probe, all in
// the same samples, and moves the chips that have counted enough nonces.
func (t *Tuner) stepLimits(ctx context.Context, p *Progress) error {
	mhz := make([]float64, t.chips)
	for i, c := range p.Chips {
		mhz[i] = c.Probe
		if c.Stage == chipDone {
			mhz[i] = c.Limit
		}
	}
	if err := t.apply(mhz, p.StartMV); err != nil {
		return err
	}
	s, err := t.sample(ctx)
	if err != nil {
		return err
	}
	done := true
	for i := range p.Chips {
		c := &p.Chips[i]
		if c.Stage == chipDone {
			continue
		}
		c.Acc, c.Samples = c.Acc.add(s[i]), c.Samples+1
		if c.Acc.Nonces >= t.cfg.MinNonces || c.Samples >= t.cfg.MaxSamples {
			t.decide(c, c.Acc.ratio() <= t.cfg.Budget)
			c.Acc, c.Samples = ChipSample{}, 0
		}
		done = done && c.Stage == chipDone
	}
	if done {
		p.Base = make([]float64, t.chips)
		for i, c := range p.Chips {
			p.Base[i] = c.Limit
		}
		t.afterLimits(p)
	}
	return nil
}

// decide moves a chip's search on after a measurement at its probe: up
// in StepUp steps while good, down while bad from the start, then
// bisection between the last good and the first bad down to Resolution,
// and the answer Margin below the last good.
func (t *Tuner) decide(c *ChipSearch, good bool) {
	lo, hi := t.minMHz, t.maxMHz
	if good {
		c.Good = c.Probe
	} else {
		c.Bad = c.Probe
	}
	switch c.Stage {
	case chipUp:
		switch {
		case good && c.Probe >= hi:
			c.Stage, c.Limit = chipDone, hi // no limit below the model's maximum
			return
		case good:
			c.Probe = math.Min(hi, c.Probe*(1+t.cfg.StepUp))
			return
		case c.Good == 0:
			c.Stage = chipDown
		default:
			c.Stage = chipBisect
		}
	case chipDown:
		if good {
			c.Stage = chipBisect
		}
	}
	if c.Stage == chipDown {
		if c.Probe <= lo {
			c.Stage, c.Limit, c.Unstable = chipDone, lo, true
			return
		}
		c.Probe = math.Max(lo, c.Probe/(1+t.cfg.StepUp))
		return
	}
	if c.Bad/c.Good-1 <= t.cfg.Resolution {
		c.Stage, c.Limit = chipDone, math.Max(lo, c.Good*(1-t.cfg.Margin))
		return
	}
	c.Probe = (c.Good + c.Bad) / 2
}

// afterLimits starts the phase that follows the per-chip search (or
// replaces it), with p.Base set.
func (t *Tuner) afterLimits(p *Progress) {
	switch t.cfg.Mode {
	case TuneMaxHashrate:
		t.choose(p, p.Base, p.StartMV, "")
	case TunePowerTarget:
		p.Phase = phasePower
		p.Power = &PowerSearch{Scale: 1, MinScale: t.minMHz / maxOf(p.Base), MaxScale: 1}
		if !t.cfg.FindLimits {
			p.Power.MaxScale = t.maxMHz / minOf(p.Base)
		}
	case TuneEfficiency:
		p.Phase = phaseEfficiency
		p.Efficiency = &EffSearch{Stage: effBaseline}
	}
}

// choose sets the operating point to verify and report.
func (t *Tuner) choose(p *Progress, mhz []float64, mv float64, note string) {
	r := Result{Mode: t.cfg.Mode, ChipMHz: append([]float64(nil), mhz...), VoltageMV: mv, Note: note}
	if p.Chips != nil {
		r.LimitsMHz = make([]float64, len(p.Chips))
		var unstable []int
		for i, c := range p.Chips {
			r.LimitsMHz[i] = c.Limit
			if c.Unstable {
				unstable = append(unstable, i)
			}
		}
		if len(unstable) > 0 {
			r.Note = joinNote(r.Note, fmt.Sprintf("chips %v over the error budget even at %v MHz", unstable, t.minMHz))
		}
	}
	if t.cfg.Mode == TunePowerTarget {
		r.TargetW = t.cfg.TargetW
	}
	if e := p.Efficiency; e != nil {
		r.Points = append([]OperatingPoint(nil), e.Points...)
		if e.Baseline != nil {
			b := *e.Baseline
			r.Baseline = &b
		}
	}
	p.Result, p.Phase, p.Verify = &r, phaseVerify, Measure{}
}

// stepVerify measures the chosen point and completes the result.
func (t *Tuner) stepVerify(ctx context.Context, p *Progress) error {
	r := p.Result
	pt, ok, err := t.measurePoint(ctx, &p.Verify, r.ChipMHz, r.VoltageMV, 1, t.cfg.MinNonces)
	if err != nil || !ok {
		return err
	}
	r.PowerW, r.HashrateHS, r.JPerTH = pt.PowerW, pt.HashrateHS, pt.JPerTH
	r.HWErrorRatio = 0
	for _, s := range p.Verify.Acc {
		r.HWErrorRatio = math.Max(r.HWErrorRatio, s.ratio())
	}
	p.Phase = phaseDone
	return nil
}

// measure applies an operating point, samples once and accumulates; ok
// reports that every chip has counted need nonces, or that MaxSamples
// samples were taken.
func (t *Tuner) measure(ctx context.Context, m *Measure, mhz []float64, mv float64, need uint64) (ok bool, err error) {
	if err := t.apply(mhz, mv); err != nil {
		return false, err
	}
	s, err := t.sample(ctx)
	if err != nil {
		return false, err
	}
	if len(m.Acc) != t.chips {
		m.Acc = make([]ChipSample, t.chips)
	}
	ok = true
	for i := range m.Acc {
		m.Acc[i] = m.Acc[i].add(s[i])
		ok = ok && m.Acc[i].Nonces >= need
	}
	m.Samples++
	return ok || m.Samples >= t.cfg.MaxSamples, nil
}

// clean reports whether every chip of a complete measurement kept within
// the error budget.
func (t *Tuner) clean(m Measure) bool {
	for _, s := range m.Acc {
		if s.ratio() > t.cfg.Budget {
			return false
		}
	}
	return len(m.Acc) > 0
}

// measurePoint measures an operating point until every chip counted need
// nonces and then reads the power; ok is false while more samples are
// needed.
func (t *Tuner) measurePoint(ctx context.Context, m *Measure, mhz []float64, mv, scale float64, need uint64) (OperatingPoint, bool, error) {
	ok, err := t.measure(ctx, m, mhz, mv, need)
	if err != nil || !ok {
		return OperatingPoint{}, false, err
	}
	w, err := t.power()
	if err != nil {
		return OperatingPoint{}, false, err
	}
	hs := 0.0
	for i, f := range mhz {
		hs += f * t.cfg.HashPerMHz * (1 - m.Acc[i].ratio())
	}
	pt := OperatingPoint{Scale: scale, VoltageMV: mv, PowerW: w, HashrateHS: hs, JPerTH: math.Inf(1)}
	if hs > 0 {
		pt.JPerTH = w / (hs / 1e12)
	}
	if math.IsInf(pt.JPerTH, 0) {
		pt.JPerTH = math.MaxFloat64 // JSON has no infinity
	}
	return pt, true, nil
}

// scaled is base × scale, clamped to the model's range.
func (t *Tuner) scaled(base []float64, scale float64) []float64 {
	out := make([]float64, len(base))
	for i, f := range base {
		out[i] = math.Max(t.minMHz, math.Min(t.maxMHz, f*scale))
	}
	return out
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
