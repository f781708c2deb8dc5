package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Tuning modes.
const (
	// TuneMaxHashrate finds each chip's highest frequency within the
	// hardware-error budget.
	TuneMaxHashrate = "max_hashrate"
	// TunePowerTarget scales every chip's frequency until the board draws
	// the target power.
	TunePowerTarget = "power_target"
	// TuneEfficiency picks the frequency and voltage with the fewest
	// joules per terahash.
	TuneEfficiency = "efficiency"
)

// Tuner states.
const (
	TuneIdle    = "idle"
	TuneRunning = "running"
	TuneStopped = "stopped" // ctx ended; resumable from Progress
	TuneDone    = "done"
	TuneFailed  = "failed"
)

// ErrBadTuning is returned for a configuration or a saved progress that
// cannot be used.
var ErrBadTuning = errors.New("control: bad tuning")

// ErrTuning is returned by Run while another Run is in progress.
var ErrTuning = errors.New("control: tuning already running")

// ChipSample is what one chip did during a sample: the nonces it returned
// (good and bad) and how many of them were hardware errors.
type ChipSample struct {
	Nonces   uint64 `json:"nonces"`
	HWErrors uint64 `json:"hw_errors"`
}

// ratio is the hardware-error ratio; a chip that returned nothing counts
// as all errors.
func (s ChipSample) ratio() float64 {
	if s.Nonces == 0 || s.HWErrors >= s.Nonces {
		return 1
	}
	return float64(s.HWErrors) / float64(s.Nonces)
}

// add accumulates o, saturating instead of wrapping.
func (s ChipSample) add(o ChipSample) ChipSample {
	sat := func(a, b uint64) uint64 {
		if a+b < a {
			return math.MaxUint64
		}
		return a + b
	}
	return ChipSample{Nonces: sat(s.Nonces, o.Nonces), HWErrors: sat(s.HWErrors, o.HWErrors)}
}

// Tunable is a hash board the tuner can clock and measure.
type Tunable interface {
	// Chips is the number of chips.
	Chips() int
	// Limits is the chip model's frequency range in MHz.
	Limits() (minMHz, maxMHz float64)
	// SetChipFrequency clocks one chip; the driver ramps it safely.
	SetChipFrequency(chip int, mhz float64) error
	// Sample counts, per chip, the nonces and hardware errors seen during
	// d (blocking, ctx-aware).
	Sample(ctx context.Context, d time.Duration) ([]ChipSample, error)
	// PowerW is the board's input power now.
	PowerW() (float64, error)
	// SetVoltage sets the core voltage in mV.
	SetVoltage(mv float64) error
	// Voltage is the core voltage set, in mV.
	Voltage() float64
	// VoltageLimits is the regulator's range in mV.
	VoltageLimits() (min, max float64)
}

// TuneConfig configures a Tuner. Zero fields take the defaults named.
type TuneConfig struct {
	// Mode is TuneMaxHashrate, TunePowerTarget or TuneEfficiency.
	Mode string
	// TargetW is the power target of TunePowerTarget, in W.
	TargetW float64
	// Budget is the hardware-error ratio a chip may show (default 0.01).
	Budget float64
	// StartMHz is where the search starts: the clock the chips run at now
	// (default the model's minimum).
	StartMHz float64
	// StepUp is the relative frequency step of the upward search (0.05);
	// Resolution ends the bisection (0.01); Margin is taken off the last
	// good frequency (0.01).
	StepUp, Resolution, Margin float64
	// SampleTime is the length of one Sample (default 5 s). A measurement
	// takes samples until every chip measured has MinNonces nonces (1000)
	// or MaxSamples samples were taken (8).
	SampleTime time.Duration
	MinNonces  uint64
	MaxSamples int
	// FindLimits makes TunePowerTarget and TuneEfficiency search each
	// chip's limit first and scale from there; without it they scale
	// from StartMHz.
	FindLimits bool
	// PowerTolerance is how close to TargetW the power search aims
	// (default 0.01), in at most MaxPowerSteps measurements (12).
	PowerTolerance float64
	MaxPowerSteps  int
	// GridPoints frequency scales from 1 down to MinScale (defaults 5 and
	// 0.5) are tried by TuneEfficiency, each at its lowest clean voltage
	// found to VoltageStepMV (10) plus VoltageMarginMV (10).
	GridPoints      int
	MinScale        float64
	VoltageStepMV   float64
	VoltageMarginMV float64
	// HashPerMHz is one chip's hashrate per MHz of clock, in H/s (cores ×
	// small cores × 1e6; default 1e6): it turns frequencies into the
	// hashrate of the result and its J/TH.
	HashPerMHz float64
	// OnProgress receives the progress after every measurement, for the
	// caller to persist; it is called from Run's goroutine.
	OnProgress func(Progress)
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
}

// withDefaults fills the zero fields and validates the rest.
func (c TuneConfig) withDefaults(minMHz, maxMHz float64) (TuneConfig, error) {
	setF := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	setF(&c.Budget, 0.01)
	setF(&c.StartMHz, minMHz)
	setF(&c.StepUp, 0.05)
	setF(&c.Resolution, 0.01)
	setF(&c.Margin, 0.01)
	setF(&c.PowerTolerance, 0.01)
	setF(&c.MinScale, 0.5)
	setF(&c.VoltageStepMV, 10)
	setF(&c.VoltageMarginMV, 10)
	setF(&c.HashPerMHz, 1e6)
	if c.SampleTime == 0 {
		c.SampleTime = 5 * time.Second
	}
	if c.MinNonces == 0 {
		c.MinNonces = 1000
	}
	if c.MaxSamples == 0 {
		c.MaxSamples = 8
	}
	if c.MaxPowerSteps == 0 {
		c.MaxPowerSteps = 12
	}
	if c.GridPoints == 0 {
		c.GridPoints = 5
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, c.check(minMHz, maxMHz)
}

// check validates a configuration with its defaults filled in.
func (c TuneConfig) check(minMHz, maxMHz float64) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadTuning}, a...)...)
	}
	switch {
	case c.Mode != TuneMaxHashrate && c.Mode != TunePowerTarget && c.Mode != TuneEfficiency:
		return bad("mode %q", c.Mode)
	case c.Mode == TunePowerTarget && !(c.TargetW > 0 && c.TargetW < 1e6):
		return bad("power target %v W", c.TargetW)
	case !(c.Budget > 0 && c.Budget < 0.5):
		return bad("error budget %v outside (0, 0.5)", c.Budget)
	case !(c.StartMHz >= minMHz && c.StartMHz <= maxMHz):
		return bad("start %v MHz outside %v–%v", c.StartMHz, minMHz, maxMHz)
	case !(c.StepUp > 0 && c.StepUp <= 1 && c.Resolution > 0 && c.Resolution <= c.StepUp && c.Margin >= 0 && c.Margin < 0.5):
		return bad("steps %v/%v/%v", c.StepUp, c.Resolution, c.Margin)
	case c.SampleTime <= 0 || c.MaxSamples <= 0 || c.MaxSamples > 1000 || c.MaxPowerSteps <= 0 || c.MaxPowerSteps > 100:
		return bad("sampling %v × %d, %d power steps", c.SampleTime, c.MaxSamples, c.MaxPowerSteps)
	case !(c.PowerTolerance > 0 && c.PowerTolerance < 0.5):
		return bad("power tolerance %v", c.PowerTolerance)
	case c.GridPoints < 2 || c.GridPoints > 50 || !(c.MinScale > 0 && c.MinScale < 1):
		return bad("grid of %d points down to %v", c.GridPoints, c.MinScale)
	case !(c.VoltageStepMV > 0 && c.VoltageMarginMV >= 0 && c.HashPerMHz > 0) || math.IsInf(c.HashPerMHz, 0):
		return bad("voltage step %v, margin %v, %v H/s per MHz", c.VoltageStepMV, c.VoltageMarginMV, c.HashPerMHz)
	}
	return nil
}

// OperatingPoint is one measured point of the board.
type OperatingPoint struct {
	Scale      float64 `json:"scale"` // of the base frequencies
	VoltageMV  float64 `json:"voltage_mv"`
	PowerW     float64 `json:"power_w"`
	HashrateHS float64 `json:"hashrate_hs"`
	JPerTH     float64 `json:"j_per_th"`
}

// Result is a finished tuning: the operating point to apply (with Apply,
// also at boot) and what was measured there.
type Result struct {
	Mode         string    `json:"mode"`
	ChipMHz      []float64 `json:"chip_mhz"`
	VoltageMV    float64   `json:"voltage_mv"`
	PowerW       float64   `json:"power_w"`
	HashrateHS   float64   `json:"hashrate_hs"` // nominal at ChipMHz, less the errors
	JPerTH       float64   `json:"j_per_th"`
	HWErrorRatio float64   `json:"hw_error_ratio"` // worst chip
	// LimitsMHz are the per-chip limits found, when searched.
	LimitsMHz []float64 `json:"limits_mhz,omitempty"`
	TargetW   float64   `json:"target_w,omitempty"`
	// Baseline is the starting point and Points the grid measured by
	// TuneEfficiency.
	Baseline *OperatingPoint  `json:"baseline,omitempty"`
	Points   []OperatingPoint `json:"points,omitempty"`
	// Note says what fell short (a power target out of reach).
	Note string `json:"note,omitempty"`
}

// TuneStatus is what the tuner reports while and after it runs.
type TuneStatus struct {
	Mode     string  `json:"mode"`
	State    string  `json:"state"` // TuneIdle … TuneFailed
	Step     int     `json:"step"`  // measurements done
	Progress float64 `json:"progress"`
	Message  string  `json:"message,omitempty"`
	Result   *Result `json:"result,omitempty"`
}

// Tuner searches a board's operating point. Run does the work in the
// caller's goroutine; Status and Progress are safe from any goroutine.
type Tuner struct {
	dev            Tunable
	cfg            TuneConfig
	chips          int
	minMHz, maxMHz float64
	minMV, maxMV   float64

	// Settings last applied, so that unchanged ones are not rewritten;
	// NaN is unknown.
	appliedMHz []float64
	appliedMV  float64

	mu      sync.Mutex
	prog    *Progress
	resumed bool // prog came from Resume: Run continues it even when done
	state   string
	msg     string
	running bool
}

// NewTuner returns a tuner for dev configured by cfg; it does nothing
// until Run.
func NewTuner(dev Tunable, cfg TuneConfig) (*Tuner, error) {
	if dev == nil {
		return nil, fmt.Errorf("%w: no device", ErrBadTuning)
	}
	t := &Tuner{dev: dev, chips: dev.Chips(), state: TuneIdle}
	t.minMHz, t.maxMHz = dev.Limits()
	t.minMV, t.maxMV = dev.VoltageLimits()
	if t.chips <= 0 || t.chips > 100000 || !finite(t.minMHz, t.maxMHz, t.minMV, t.maxMV) ||
		!(t.minMHz > 0 && t.minMHz <= t.maxMHz && t.minMV > 0 && t.minMV <= t.maxMV) {
		return nil, fmt.Errorf("%w: device with %d chips, %v–%v MHz, %v–%v mV", ErrBadTuning,
			t.chips, t.minMHz, t.maxMHz, t.minMV, t.maxMV)
	}
	var err error
	if t.cfg, err = cfg.withDefaults(t.minMHz, t.maxMHz); err != nil {
		return nil, err
	}
	return t, nil
}

// Resume makes the next Run continue from p, a Progress saved by an
// earlier run with the same configuration on the same board.
func (t *Tuner) Resume(p Progress) error {
	if err := p.check(t); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running {
		return ErrTuning
	}
	c := p.clone()
	t.prog, t.resumed = &c, true
	return nil
}

// Progress returns a copy of the progress, for the caller to persist.
func (t *Tuner) Progress() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.prog == nil {
		return Progress{}
	}
	return t.prog.clone()
}

// Status returns what the tuner is doing.
func (t *Tuner) Status() TuneStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := TuneStatus{Mode: t.cfg.Mode, State: t.state, Message: t.msg}
	if t.prog != nil {
		s.Step, s.Progress = t.prog.Step, t.prog.fraction(t.cfg)
		if t.prog.Result != nil && t.prog.Phase == phaseDone {
			r := t.prog.Result.clone()
			s.Result = &r
		}
	}
	return s
}

// Run tunes until done, ctx ends or the board fails. It returns the
// result when done; when ctx ends it returns ctx's error, the chips are
// put back at the starting point and Progress can resume later. A Run
// after a finished one tunes afresh; after Resume it continues the
// resumed progress (a finished one only returns its result).
func (t *Tuner) Run(ctx context.Context) (Result, error) {
	if err := t.begin(); err != nil {
		return Result{}, err
	}
	err := t.loop(ctx)
	if err != nil {
		t.restore() // only Run writes the progress: no lock needed to read it
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running = false
	switch {
	case err == nil:
		t.state, t.msg = TuneDone, "done"
		return t.prog.Result.clone(), nil
	case ctx.Err() != nil:
		t.state, t.msg = TuneStopped, fmt.Sprintf("stopped at step %d; resumable", t.prog.Step)
		return Result{}, fmt.Errorf("autotune: stopped: %w", ctx.Err())
	default:
		t.state, t.msg = TuneFailed, err.Error()
		return Result{}, err
	}
}

// begin marks the tuner running and prepares the progress.
func (t *Tuner) begin() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running {
		return ErrTuning
	}
	if t.prog == nil || (t.prog.Phase == phaseDone && !t.resumed) {
		p := newProgress(t)
		t.prog = &p
	}
	t.resumed = false
	t.running, t.state, t.msg = true, TuneRunning, "running"
	t.appliedMHz = make([]float64, t.chips)
	for i := range t.appliedMHz {
		t.appliedMHz[i] = math.NaN()
	}
	t.appliedMV = math.NaN()
	return nil
}

// maxSteps bounds one Run, whatever the progress it resumed from.
const maxSteps = 10000

// loop takes measurements until the progress is done. Each step commits
// to the progress only after its measurement succeeded, so a step cut
// short by ctx is simply taken again on resume.
func (t *Tuner) loop(ctx context.Context) error {
	for range maxSteps {
		t.mu.Lock()
		p := t.prog.clone()
		t.mu.Unlock()
		if p.Phase == phaseDone {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := t.step(ctx, &p); err != nil {
			return err
		}
		p.Step++
		t.mu.Lock()
		t.prog = &p
		t.mu.Unlock()
		if t.cfg.OnProgress != nil {
			t.cfg.OnProgress(p.clone())
		}
	}
	return fmt.Errorf("autotune: no result after %d measurements", maxSteps)
}

// restore puts the board back at the starting point after a stop or a
// failure (best effort).
func (t *Tuner) restore() {
	p := t.prog
	mhz := make([]float64, t.chips)
	for i := range mhz {
		mhz[i] = p.StartMHz
	}
	if err := t.apply(mhz, p.StartMV); err != nil {
		t.cfg.Log.Warn("autotune: restoring the starting point", "err", err)
	}
}

// apply sets the frequencies and voltage that differ from those applied:
// a voltage rise before the clocks, a fall after them, so the chips never
// run fast at the lower voltage of the two.
func (t *Tuner) apply(mhz []float64, mv float64) error {
	setV := func() error {
		if mv == t.appliedMV {
			return nil
		}
		if err := t.dev.SetVoltage(mv); err != nil {
			t.appliedMV = math.NaN()
			return fmt.Errorf("autotune: set voltage %.0f mV: %w", mv, err)
		}
		t.appliedMV = mv
		return nil
	}
	if !(mv < t.appliedMV) { // a rise, or unknown
		if err := setV(); err != nil {
			return err
		}
	}
	for i, f := range mhz {
		if f == t.appliedMHz[i] {
			continue
		}
		if err := t.dev.SetChipFrequency(i, f); err != nil {
			t.appliedMHz[i] = math.NaN()
			return fmt.Errorf("autotune: set chip %d to %.1f MHz: %w", i, f, err)
		}
		t.appliedMHz[i] = f
	}
	return setV()
}

// sample takes one sample of every chip.
func (t *Tuner) sample(ctx context.Context) ([]ChipSample, error) {
	s, err := t.dev.Sample(ctx, t.cfg.SampleTime)
	if err != nil {
		return nil, fmt.Errorf("autotune: sample: %w", err)
	}
	if len(s) != t.chips {
		return nil, fmt.Errorf("autotune: sample: %d chips answered, want %d", len(s), t.chips)
	}
	return s, nil
}

// power reads the board's input power.
func (t *Tuner) power() (float64, error) {
	w, err := t.dev.PowerW()
	if err != nil {
		return 0, fmt.Errorf("autotune: power: %w", err)
	}
	if !(w > 0) || math.IsInf(w, 0) {
		return 0, fmt.Errorf("autotune: power: implausible reading %v W", w)
	}
	return w, nil
}

// Apply sets a board to a tuning result (at boot, or after a run): the
// voltage and each chip's frequency, in the order that keeps the chips
// within their voltage floor.
func Apply(dev Tunable, r Result) error {
	minMHz, maxMHz := dev.Limits()
	minMV, maxMV := dev.VoltageLimits()
	if len(r.ChipMHz) != dev.Chips() {
		return fmt.Errorf("%w: result for %d chips, board has %d", ErrBadTuning, len(r.ChipMHz), dev.Chips())
	}
	for i, f := range r.ChipMHz {
		if !(f >= minMHz && f <= maxMHz) {
			return fmt.Errorf("%w: chip %d at %v MHz outside %v–%v", ErrBadTuning, i, f, minMHz, maxMHz)
		}
	}
	if !(r.VoltageMV >= minMV && r.VoltageMV <= maxMV) {
		return fmt.Errorf("%w: %v mV outside %v–%v", ErrBadTuning, r.VoltageMV, minMV, maxMV)
	}
	t := &Tuner{dev: dev, chips: len(r.ChipMHz), appliedMHz: make([]float64, len(r.ChipMHz)), appliedMV: dev.Voltage()}
	for i := range t.appliedMHz {
		t.appliedMHz[i] = math.NaN()
	}
	if r.VoltageMV == t.appliedMV {
		t.appliedMV = math.NaN() // write it anyway: the regulator may have been reset
	}
	return t.apply(r.ChipMHz, r.VoltageMV)
}
