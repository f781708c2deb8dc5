package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/control"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
)

// Store keys of autotuning: the result applied at boot, and the progress
// of a stopped run.
const (
	settingTuneResult   = "autotune_result"
	settingTuneProgress = "autotune_progress"
)

// Sampling of the autotuner on a board: one-second samples until every
// chip has sent tuneMinNonces nonces, at most tuneMaxSamples of them.
const (
	tuneSampleTime = time.Second
	tuneMinNonces  = 300
	tuneMaxSamples = 60
)

// simTunable is the simulated board as the autotuner sees it: chips
// numbered across chains.
type simTunable struct{ h *simHasher }

var _ control.Tunable = simTunable{}

func (t simTunable) Chips() int { return t.h.plan.chains * t.h.plan.chips }

func (t simTunable) Limits() (float64, float64) {
	l := t.h.plan.limits()
	return l.FrequencyMinMHz, l.FrequencyMaxMHz
}

func (t simTunable) VoltageLimits() (float64, float64) {
	l := t.h.plan.limits()
	return l.VoltageMinMV, l.VoltageMaxMV
}

// locate maps a board-wide chip number to its chain and place.
func (t simTunable) locate(k int) (chain, chip int) { return k / t.h.plan.chips, k % t.h.plan.chips }

func (t simTunable) SetChipFrequency(k int, mhz float64) error {
	chain, chip := t.locate(k)
	t.h.mu.Lock()
	defer t.h.mu.Unlock()
	if chain >= len(t.h.chains) {
		return fmt.Errorf("autotune: chip %d: board not running", k)
	}
	return t.h.chains[chain].SetChipFrequency(chip, mhz)
}

// counts reads every chip's nonce and error counters.
func (t simTunable) counts() []control.ChipSample {
	out := make([]control.ChipSample, t.Chips())
	t.h.mu.Lock()
	chains := t.h.chains
	t.h.mu.Unlock()
	for ci, ch := range chains {
		for _, cs := range ch.Status().Chips {
			if k := ci*t.h.plan.chips + cs.Index; k < len(out) {
				out[k] = control.ChipSample{Nonces: cs.Nonces, HWErrors: cs.HWErrors}
			}
		}
	}
	return out
}

func (t simTunable) Sample(ctx context.Context, d time.Duration) ([]control.ChipSample, error) {
	before := t.counts()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
	}
	after := t.counts()
	for i := range after {
		after[i].Nonces -= min(after[i].Nonces, before[i].Nonces)
		after[i].HWErrors -= min(after[i].HWErrors, before[i].HWErrors)
	}
	return after, nil
}

func (t simTunable) PowerW() (float64, error) {
	t.h.mu.Lock()
	b := t.h.board
	t.h.mu.Unlock()
	if b == nil {
		return 0, errors.New("autotune: board not running")
	}
	return b.PowerW(), nil
}

func (t simTunable) Voltage() float64 { return t.h.setpointMV() }

// Core voltage changes are walked in steps of voltageStepMV, one per
// voltageStepPause, so the chips never see a jump.
const (
	voltageStepMV    = 10
	voltageStepPause = 2 * time.Millisecond
)

// SetVoltage walks the core voltage of every running chain, and the
// setpoint the protection checks against, to mv.
func (t simTunable) SetVoltage(mv float64) error {
	v := t.h.setpointMV()
	for v != mv {
		if mv > v {
			v = min(mv, v+voltageStepMV)
		} else {
			v = max(mv, v-voltageStepMV)
		}
		if err := t.setVoltageNow(v); err != nil {
			return err
		}
		if v != mv {
			time.Sleep(voltageStepPause)
		}
	}
	return nil
}

// setVoltageNow sets the voltage in one go.
func (t simTunable) setVoltageNow(mv float64) error {
	t.h.mu.Lock()
	defer t.h.mu.Unlock()
	if t.h.board == nil {
		return errors.New("autotune: board not running")
	}
	t.h.voltageMV = mv
	for i := range t.h.chains {
		if t.h.runs[i].cancel == nil {
			continue // powered off by the protection; it starts at the new setpoint
		}
		if err := t.h.board.Regulator(i).SetVoltage(physic.ElectricPotential(mv) * physic.MilliVolt); err != nil {
			return err
		}
	}
	return nil
}

// tunable returns the autotuner's view of the hardware in service.
func (c *core) tunable() (*simHasher, control.Tunable, error) {
	h, ok := c.currentHasher().(*simHasher)
	if !ok {
		return nil, nil, fmt.Errorf("autotuning needs a board of chips (here: the simulated board): %w", webui.ErrUnsupported)
	}
	h.mu.Lock()
	running := h.board != nil
	h.mu.Unlock()
	if !running {
		return nil, nil, fmt.Errorf("the board is still starting: %w", webui.ErrInvalid)
	}
	return h, simTunable{h}, nil
}

// StartAutotune implements webui.Autotuner.
func (c *core) StartAutotune(ctx context.Context, r webui.AutotuneRequest) error {
	h, dev, err := c.tunable()
	if err != nil {
		return err
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.tuneCancel != nil {
		return fmt.Errorf("autotuning is already running: %w", webui.ErrInvalid)
	}
	cfg := control.TuneConfig{
		Mode: r.Mode, TargetW: r.PowerW, Budget: r.HWErrorBudget, StartMHz: h.plan.mhz(),
		SampleTime: tuneSampleTime, MinNonces: tuneMinNonces, MaxSamples: tuneMaxSamples,
		FindLimits: r.Mode != control.TuneMaxHashrate,
		HashPerMHz: float64(h.plan.model.Cores*h.plan.model.SmallCores) * 1e6,
		OnProgress: c.saveTuneProgress, Log: c.log.With("pkg", "autotune"),
	}
	tuner, err := control.NewTuner(dev, cfg)
	if err != nil {
		return fmt.Errorf("%v: %w", err, webui.ErrInvalid)
	}
	if r.Resume {
		if err := c.resumeTuner(ctx, tuner); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(c.runCtx)
	c.tuner, c.tuneCancel = tuner, cancel
	done := make(chan struct{})
	c.tuneDone = done
	go c.runTuner(runCtx, tuner, done)
	c.event(store.LevelInfo, "tuning", "autotune_started", "autotuning started: "+r.Mode)
	return nil
}

// resumeTuner loads the saved progress into tuner.
func (c *core) resumeTuner(ctx context.Context, tuner *control.Tuner) error {
	raw, ok, err := c.store.Setting(ctx, settingTuneProgress)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no stopped autotuning to resume: %w", webui.ErrInvalid)
	}
	p, err := control.ParseProgress([]byte(raw))
	if err == nil {
		err = tuner.Resume(p)
	}
	if err != nil {
		return fmt.Errorf("the saved autotuning cannot be resumed (%v); start afresh: %w", err, webui.ErrInvalid)
	}
	return nil
}

// runTuner runs one tuning to its end and keeps its result.
func (c *core) runTuner(ctx context.Context, tuner *control.Tuner, done chan struct{}) {
	defer close(done)
	res, err := tuner.Run(ctx)
	c.tmu.Lock()
	c.tuneCancel = nil
	c.tmu.Unlock()
	switch {
	case err == nil:
		b, _ := json.Marshal(res)
		sctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		if err := c.store.SetSetting(sctx, settingTuneResult, string(b)); err != nil {
			c.log.Warn("saving the autotuning result", "err", err)
		}
		c.event(store.LevelInfo, "tuning", "autotune_done", fmt.Sprintf("autotuning done (%s): %.1f W, %.1f J/TH",
			res.Mode, res.PowerW, res.JPerTH))
	case ctx.Err() != nil:
		c.saveTuneProgress(tuner.Progress())
		c.event(store.LevelInfo, "tuning", "autotune_stopped", "autotuning stopped; it can be resumed")
	default:
		c.event(store.LevelWarn, "tuning", "autotune_failed", "autotuning failed: "+err.Error())
	}
}

// saveTuneProgress persists the progress after every measurement.
func (c *core) saveTuneProgress(p control.Progress) {
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := c.store.SetSetting(ctx, settingTuneProgress, string(b)); err != nil {
		c.log.Warn("saving the autotuning progress", "err", err)
	}
}

// StopAutotune implements webui.Autotuner.
func (c *core) StopAutotune(context.Context) error {
	c.tmu.Lock()
	cancel, done := c.tuneCancel, c.tuneDone
	c.tmu.Unlock()
	if cancel == nil {
		return fmt.Errorf("autotuning is not running: %w", webui.ErrInvalid)
	}
	cancel()
	<-done
	return nil
}

// AutotuneStatus implements webui.Autotuner.
func (c *core) AutotuneStatus() webui.AutotuneStatus {
	c.tmu.Lock()
	tuner := c.tuner
	c.tmu.Unlock()
	if tuner == nil {
		st := webui.AutotuneStatus{State: control.TuneIdle}
		if r, ok := c.savedTuneResult(); ok {
			st.Result = tuneView(r, c.currentHasher())
			st.Mode, st.State, st.Progress = r.Mode, control.TuneDone, 1
		}
		return st
	}
	s := tuner.Status()
	st := webui.AutotuneStatus{Mode: s.Mode, State: s.State, Progress: s.Progress, Message: s.Message}
	if s.Result != nil {
		st.Result = tuneView(*s.Result, c.currentHasher())
	}
	return st
}

// savedTuneResult reads the result applied at boot.
func (c *core) savedTuneResult() (control.Result, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	raw, ok, err := c.store.Setting(ctx, settingTuneResult)
	if err != nil || !ok {
		return control.Result{}, false
	}
	var r control.Result
	if json.Unmarshal([]byte(raw), &r) != nil {
		return control.Result{}, false
	}
	return r, true
}

// tuneView converts a result for the API.
func tuneView(r control.Result, h hasher) *webui.AutotuneResult {
	per := 1
	if sh, ok := h.(*simHasher); ok {
		per = sh.plan.chips
	}
	v := &webui.AutotuneResult{Mode: r.Mode, Chips: []webui.ChipFrequency{}, VoltageMV: r.VoltageMV,
		PowerW: r.PowerW, HashrateHS: r.HashrateHS, JPerTH: r.JPerTH}
	if b := r.Baseline; b != nil {
		v.Baseline = &webui.OperatingPoint{VoltageMV: b.VoltageMV, PowerW: b.PowerW, HashrateHS: b.HashrateHS, JPerTH: b.JPerTH}
	}
	for k, f := range r.ChipMHz {
		v.Chips = append(v.Chips, webui.ChipFrequency{Chain: k / per, Chip: k % per, FrequencyMHz: f})
	}
	return v
}

// applySavedTuning puts a freshly started board at the saved autotuning
// result, once the board runs.
func (c *core) applySavedTuning(ctx context.Context, h *simHasher) {
	r, ok := c.savedTuneResult()
	if !ok {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for range 300 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !h.allMining() {
			continue
		}
		if err := control.Apply(simTunable{h}, r); err != nil {
			c.log.Warn("applying the saved autotuning", "err", err)
			return
		}
		c.log.Info("saved autotuning applied", "mode", r.Mode, "voltage_mv", r.VoltageMV)
		return
	}
}

// SetChipFrequency implements webui.ChipTuner: one chip's clock, by hand.
func (c *core) SetChipFrequency(_ context.Context, t webui.ChipTuning) error {
	h, dev, err := c.tunable()
	if err != nil {
		return err
	}
	if t.Board != 0 || t.Chain >= h.plan.chains || t.Chip >= h.plan.chips {
		return fmt.Errorf("no chip %d on chain %d of board %d: %w", t.Chip, t.Chain, t.Board, webui.ErrInvalid)
	}
	if err := dev.SetChipFrequency(t.Chain*h.plan.chips+t.Chip, t.FrequencyMHz); err != nil {
		return fmt.Errorf("%v: %w", err, webui.ErrInvalid)
	}
	c.event(store.LevelInfo, "tuning", "chip_clock", fmt.Sprintf("chain %d chip %d set to %g MHz", t.Chain, t.Chip, t.FrequencyMHz))
	return nil
}

// allMining reports whether every chain found its chips and mines.
func (h *simHasher) allMining() bool {
	h.mu.Lock()
	chains := h.chains
	ready := h.board != nil
	h.mu.Unlock()
	if !ready {
		return false
	}
	for _, ch := range chains {
		st := ch.Status()
		if st.State != bm13xx.StateMining || len(st.Chips) != h.plan.chips {
			return false
		}
	}
	return true
}
