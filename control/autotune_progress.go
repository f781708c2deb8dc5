package control

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// progressVersion is the layout of Progress; a saved progress of another
// version is refused.
const progressVersion = 1

// Phases of a tuning run.
const (
	phaseLimits     = "limits"     // per-chip frequency search
	phasePower      = "power"      // scaling to the power target
	phaseEfficiency = "efficiency" // frequency × voltage grid
	phaseVerify     = "verify"     // measuring the chosen point
	phaseDone       = "done"
)

// Stages of a chip's frequency search.
const (
	chipUp     = "up"     // stepping up from the start
	chipDown   = "down"   // stepping down: bad at the start
	chipBisect = "bisect" // between the last good and the first bad
	chipDone   = "done"
)

// Stages of the efficiency search.
const (
	effBaseline = "baseline" // the starting point, for comparison
	effHi       = "hi"       // the grid point at the top voltage
	effLo       = "lo"       // ... at the regulator's minimum
	effBisect   = "bisect"   // ... between them
	effPower    = "power"    // ... at the floor found plus the margin
)

// Progress is the whole state of a tuning run, saved after every
// measurement (TuneConfig.OnProgress, Tuner.Progress) so that a run
// stopped by a restart or the user resumes where it stopped
// (Tuner.Resume). It is plain JSON.
type Progress struct {
	Version  int     `json:"version"`
	Mode     string  `json:"mode"`
	TargetW  float64 `json:"target_w,omitempty"`
	Budget   float64 `json:"budget"`
	Phase    string  `json:"phase"`
	Step     int     `json:"step"`
	StartMHz float64 `json:"start_mhz"`
	StartMV  float64 `json:"start_mv"`
	// Chips is the per-chip frequency search.
	Chips []ChipSearch `json:"chips,omitempty"`
	// Base are the frequencies the power and efficiency phases scale:
	// the limits found, or StartMHz.
	Base       []float64    `json:"base_mhz,omitempty"`
	Power      *PowerSearch `json:"power,omitempty"`
	Efficiency *EffSearch   `json:"efficiency,omitempty"`
	// Verify accumulates the final measurement of Result.
	Verify Measure `json:"verify"`
	// Result is the point chosen (phase verify) or measured (done).
	Result *Result `json:"result,omitempty"`
}

// ChipSearch is one chip's frequency search.
type ChipSearch struct {
	Stage   string     `json:"stage"`
	Probe   float64    `json:"probe_mhz"`          // being measured
	Good    float64    `json:"good_mhz,omitempty"` // highest within budget
	Bad     float64    `json:"bad_mhz,omitempty"`  // lowest over budget
	Acc     ChipSample `json:"acc"`                // counted at Probe
	Samples int        `json:"samples"`
	Limit   float64    `json:"limit_mhz,omitempty"` // the answer, when done
	// Unstable marks a chip over budget even at the lowest clock.
	Unstable bool `json:"unstable,omitempty"`
}

// Measure accumulates samples of every chip at one operating point.
type Measure struct {
	Acc     []ChipSample `json:"acc,omitempty"`
	Samples int          `json:"samples"`
}

// PowerSearch is the power target's search over a common frequency scale.
type PowerSearch struct {
	Scale    float64          `json:"scale"`
	MinScale float64          `json:"min_scale"`
	MaxScale float64          `json:"max_scale"`
	Points   []OperatingPoint `json:"points,omitempty"`
	M        Measure          `json:"measure"`
}

// EffSearch is the efficiency search: for each frequency scale the lowest
// clean voltage (bisected between Lo and Hi), then the power there.
type EffSearch struct {
	Stage    string           `json:"stage"`
	Scales   []float64        `json:"scales,omitempty"`
	Index    int              `json:"index"`
	Top      float64          `json:"top_mv"`
	Lo       float64          `json:"lo_mv"`
	Hi       float64          `json:"hi_mv"`
	M        Measure          `json:"measure"`
	Baseline *OperatingPoint  `json:"baseline,omitempty"`
	Points   []OperatingPoint `json:"points,omitempty"`
}

// ParseProgress decodes a saved progress. Tuner.Resume checks it against
// the board and the configuration.
func ParseProgress(b []byte) (Progress, error) {
	var p Progress
	if err := json.Unmarshal(b, &p); err != nil {
		return Progress{}, fmt.Errorf("autotune: progress: %w", err)
	}
	return p, nil
}

// newProgress starts a run of t's configuration.
func newProgress(t *Tuner) Progress {
	c := t.cfg
	p := Progress{Version: progressVersion, Mode: c.Mode, Budget: c.Budget, StartMHz: c.StartMHz,
		StartMV: t.dev.Voltage()}
	if c.Mode == TunePowerTarget {
		p.TargetW = c.TargetW
	}
	if c.Mode == TuneMaxHashrate || c.FindLimits {
		p.Phase = phaseLimits
		p.Chips = make([]ChipSearch, t.chips)
		for i := range p.Chips {
			p.Chips[i] = ChipSearch{Stage: chipUp, Probe: c.StartMHz}
		}
		return p
	}
	p.Base = make([]float64, t.chips)
	for i := range p.Base {
		p.Base[i] = c.StartMHz
	}
	t.afterLimits(&p)
	return p
}

// clone is a deep copy.
func (p Progress) clone() Progress {
	p.Chips = slices.Clone(p.Chips)
	p.Base = slices.Clone(p.Base)
	p.Verify = p.Verify.clone()
	if p.Power != nil {
		ps := *p.Power
		ps.Points, ps.M = slices.Clone(ps.Points), ps.M.clone()
		p.Power = &ps
	}
	if p.Efficiency != nil {
		e := *p.Efficiency
		e.Scales, e.Points, e.M = slices.Clone(e.Scales), slices.Clone(e.Points), e.M.clone()
		if e.Baseline != nil {
			b := *e.Baseline
			e.Baseline = &b
		}
		p.Efficiency = &e
	}
	if p.Result != nil {
		r := p.Result.clone()
		p.Result = &r
	}
	return p
}

func (m Measure) clone() Measure { m.Acc = slices.Clone(m.Acc); return m }

// clone is a deep copy.
func (r Result) clone() Result {
	r.ChipMHz, r.LimitsMHz, r.Points = slices.Clone(r.ChipMHz), slices.Clone(r.LimitsMHz), slices.Clone(r.Points)
	if r.Baseline != nil {
		b := *r.Baseline
		r.Baseline = &b
	}
	return r
}

// check validates a saved progress against t's board and configuration.
func (p Progress) check(t *Tuner) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: progress: "+format, append([]any{ErrBadTuning}, a...)...)
	}
	inMHz := func(f float64) bool { return f >= t.minMHz && f <= t.maxMHz }
	inMV := func(v float64) bool { return v >= t.minMV && v <= t.maxMV }
	c := t.cfg
	switch {
	case p.Version != progressVersion:
		return bad("version %d, want %d", p.Version, progressVersion)
	case p.Mode != c.Mode || p.Budget != c.Budget || (c.Mode == TunePowerTarget && p.TargetW != c.TargetW):
		return bad("saved for %s (budget %v, target %v W), not this configuration", p.Mode, p.Budget, p.TargetW)
	case p.Step < 0 || !inMHz(p.StartMHz) || !inMV(p.StartMV):
		return bad("start %v MHz, %v mV, step %d", p.StartMHz, p.StartMV, p.Step)
	case p.Verify.check(t.chips, c.MaxSamples) != nil:
		return bad("verify: %v", p.Verify.check(t.chips, c.MaxSamples))
	}
	for i, f := range p.Base {
		if len(p.Base) != t.chips || !inMHz(f) {
			return bad("base of chip %d: %v MHz of %d chips", i, f, len(p.Base))
		}
	}
	if p.Result != nil {
		if err := checkResult(*p.Result, t); err != nil {
			return bad("%v", err)
		}
	}
	switch p.Phase {
	case phaseLimits:
		return p.checkChips(t)
	case phasePower:
		return p.checkPower(t)
	case phaseEfficiency:
		return p.checkEfficiency(t)
	case phaseVerify, phaseDone:
		if p.Result == nil {
			return bad("phase %s without a result", p.Phase)
		}
		return nil
	}
	return bad("phase %q", p.Phase)
}

// checkChips validates the per-chip search.
func (p Progress) checkChips(t *Tuner) error {
	if len(p.Chips) != t.chips {
		return fmt.Errorf("%w: progress: %d chip searches for %d chips", ErrBadTuning, len(p.Chips), t.chips)
	}
	okMHz := func(f float64) bool { return f == 0 || (f >= t.minMHz && f <= t.maxMHz) }
	for i, s := range p.Chips {
		stage := s.Stage == chipUp || s.Stage == chipDown || s.Stage == chipBisect || s.Stage == chipDone
		if !stage || !okMHz(s.Probe) || s.Probe == 0 || !okMHz(s.Good) || !okMHz(s.Bad) || !okMHz(s.Limit) ||
			(s.Stage == chipDone && s.Limit == 0) || (s.Stage == chipBisect && (s.Good == 0 || s.Bad == 0)) ||
			s.Samples < 0 || s.Samples > t.cfg.MaxSamples {
			return fmt.Errorf("%w: progress: chip %d search %+v", ErrBadTuning, i, s)
		}
	}
	return nil
}

// checkPower validates the power search.
func (p Progress) checkPower(t *Tuner) error {
	ps := p.Power
	if ps == nil || len(p.Base) != t.chips {
		return fmt.Errorf("%w: progress: power phase without its search", ErrBadTuning)
	}
	if !(ps.MinScale > 0 && ps.MinScale <= ps.Scale && ps.Scale <= ps.MaxScale && ps.MaxScale < 1e6) ||
		len(ps.Points) >= t.cfg.MaxPowerSteps || ps.M.check(t.chips, t.cfg.MaxSamples) != nil {
		return fmt.Errorf("%w: progress: power search at scale %v of %v–%v, %d points", ErrBadTuning,
			ps.Scale, ps.MinScale, ps.MaxScale, len(ps.Points))
	}
	return checkPoints(ps.Points)
}

// checkEfficiency validates the efficiency search.
func (p Progress) checkEfficiency(t *Tuner) error {
	e := p.Efficiency
	if e == nil || len(p.Base) != t.chips {
		return fmt.Errorf("%w: progress: efficiency phase without its search", ErrBadTuning)
	}
	inMV := func(v float64) bool { return v >= t.minMV && v <= t.maxMV }
	stage := e.Stage == effBaseline || e.Stage == effHi || e.Stage == effLo || e.Stage == effBisect || e.Stage == effPower
	scales := len(e.Scales) <= 50 && (e.Stage == effBaseline || e.Index < len(e.Scales))
	for _, s := range e.Scales {
		scales = scales && s > 0 && s <= 1
	}
	if !stage || !scales || e.Index < 0 || len(e.Points) > len(e.Scales) || e.M.check(t.chips, t.cfg.MaxSamples) != nil ||
		(e.Stage != effBaseline && !(inMV(e.Lo) && inMV(e.Hi) && inMV(e.Top) && e.Lo <= e.Hi && e.Hi <= e.Top)) {
		return fmt.Errorf("%w: progress: efficiency search %s at %d of %d, %v–%v mV", ErrBadTuning,
			e.Stage, e.Index, len(e.Scales), e.Lo, e.Hi)
	}
	if e.Baseline != nil {
		return checkPoints(append([]OperatingPoint{*e.Baseline}, e.Points...))
	}
	return checkPoints(e.Points)
}

// check validates an accumulation for chips chips.
func (m Measure) check(chips, maxSamples int) error {
	if (len(m.Acc) != 0 && len(m.Acc) != chips) || m.Samples < 0 || m.Samples > maxSamples {
		return fmt.Errorf("%d chips accumulated over %d samples", len(m.Acc), m.Samples)
	}
	return nil
}

// checkPoints refuses measured points with impossible numbers.
func checkPoints(pts []OperatingPoint) error {
	for _, pt := range pts {
		if !finite(pt.Scale, pt.VoltageMV, pt.PowerW, pt.HashrateHS, pt.JPerTH) || pt.PowerW <= 0 || pt.Scale <= 0 {
			return fmt.Errorf("%w: progress: point %+v", ErrBadTuning, pt)
		}
	}
	return nil
}

// checkResult validates a result's operating point against t's board.
func checkResult(r Result, t *Tuner) error {
	if len(r.ChipMHz) != t.chips {
		return fmt.Errorf("result for %d chips, board has %d", len(r.ChipMHz), t.chips)
	}
	for i, f := range r.ChipMHz {
		if !(f >= t.minMHz && f <= t.maxMHz) {
			return fmt.Errorf("result chip %d at %v MHz outside %v–%v", i, f, t.minMHz, t.maxMHz)
		}
	}
	if !(r.VoltageMV >= t.minMV && r.VoltageMV <= t.maxMV) {
		return fmt.Errorf("result at %v mV outside %v–%v", r.VoltageMV, t.minMV, t.maxMV)
	}
	return nil
}

// fraction estimates how much of the run is done, 0–1.
func (p Progress) fraction(c TuneConfig) float64 {
	limitsShare := 0.0
	switch {
	case p.Mode == TuneMaxHashrate:
		limitsShare = 0.95
	case c.FindLimits:
		limitsShare = 0.5
	}
	const verifyShare = 0.05
	middle := 1 - limitsShare - verifyShare
	switch p.Phase {
	case phaseLimits:
		return limitsShare * p.chipsFraction(c)
	case phasePower:
		n := 0
		if p.Power != nil {
			n = len(p.Power.Points)
		}
		return limitsShare + middle*math.Min(1, float64(n)/4)
	case phaseEfficiency:
		if e := p.Efficiency; e != nil && len(e.Scales) > 0 {
			return limitsShare + middle*float64(e.Index+1)/float64(len(e.Scales)+1)
		}
		return limitsShare
	case phaseVerify:
		return 1 - verifyShare
	case phaseDone:
		return 1
	}
	return 0
}

// chipsFraction estimates the share of the per-chip search done: the
// climb counts for a third, the bisection for the rest.
func (p Progress) chipsFraction(c TuneConfig) float64 {
	if len(p.Chips) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range p.Chips {
		switch s.Stage {
		case chipDone:
			sum++
		case chipBisect:
			left := math.Log(s.Bad/s.Good) / math.Log(1+c.StepUp)
			sum += 1.0/3 + 2.0/3*math.Max(0, math.Min(1, 1-left))
		default:
			sum += 1.0 / 6
		}
	}
	return sum / float64(len(p.Chips))
}
