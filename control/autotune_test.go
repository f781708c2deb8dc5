package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hidden limits of the fake board's chips, in MHz.
var fakeLimits = []float64{480, 520, 555, 590, 610, 645, 690, 730}

func newTuner(t *testing.T, b *fakeBoard, cfg TuneConfig) *Tuner {
	t.Helper()
	if cfg.MinNonces == 0 {
		cfg.MinNonces = 2000
	}
	if cfg.MaxSamples == 0 {
		cfg.MaxSamples = 20
	}
	tu, err := NewTuner(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

func runTuner(t *testing.T, tu *Tuner) Result {
	t.Helper()
	r, err := tu.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s := tu.Status(); s.State != TuneDone || s.Progress != 1 || s.Result == nil {
		t.Errorf("status after Run: %+v", s)
	}
	return r
}

// checkApplied checks that the board runs at the result.
func checkApplied(t *testing.T, b *fakeBoard, r Result) {
	t.Helper()
	mhz, mv, _ := b.state()
	if diff := cmp.Diff(r.ChipMHz, mhz); diff != "" || mv != r.VoltageMV {
		t.Errorf("board at %v mV (result %v), clocks (-result +board):\n%s", mv, r.VoltageMV, diff)
	}
}

// TestTuneMaxHashrate checks that the per-chip search lands within 5 % of
// each chip's hidden limit, never above it by more than the resolution.
func TestTuneMaxHashrate(t *testing.T) {
	b := newFakeBoard(fakeLimits...)
	var tu *Tuner
	last := -1.0
	tu = newTuner(t, b, TuneConfig{Mode: TuneMaxHashrate, StartMHz: 400, OnProgress: func(p Progress) {
		if s := tu.Status(); s.Progress < last || s.Step != p.Step || s.State != TuneRunning {
			t.Errorf("status %+v after %v, progress step %d", s, last, p.Step)
		} else {
			last = s.Progress
		}
	}})
	r := runTuner(t, tu)
	for i, f := range r.ChipMHz {
		if lim := fakeLimits[i]; !(f >= 0.95*lim && f <= 1.01*lim) {
			t.Errorf("chip %d tuned to %.1f MHz, hidden limit %v", i, f, lim)
		}
	}
	if r.HWErrorRatio > 0.01 || r.Mode != TuneMaxHashrate || len(r.LimitsMHz) != len(fakeLimits) || r.PowerW <= 0 {
		t.Errorf("result %+v", r)
	}
	checkApplied(t, b, r)
	t.Logf("%d samples; clocks %.1f", b.samples, r.ChipMHz)
}

// TestTuneMaxHashrateEdges has a chip above the model's maximum, one that
// fails even at the minimum, and starts above some limits (the search
// then steps down).
func TestTuneMaxHashrateEdges(t *testing.T) {
	b := newFakeBoard(900, 250, 500, 700)
	r := runTuner(t, newTuner(t, b, TuneConfig{Mode: TuneMaxHashrate, StartMHz: 650}))
	want := []float64{fakeMaxMHz, fakeMinMHz}
	if !slices.Equal(r.ChipMHz[:2], want) || !strings.Contains(r.Note, "chips [1]") {
		t.Errorf("edges: clocks %v, note %q; want %v first and chip 1 noted", r.ChipMHz, r.Note, want)
	}
	for i, lim := range []float64{500, 700} {
		if f := r.ChipMHz[i+2]; !(f >= 0.95*lim && f <= 1.01*lim) {
			t.Errorf("chip %d at %.1f MHz, limit %v", i+2, f, lim)
		}
	}
}

// TestTunePowerTarget aims at targets with and without the per-chip
// limits; the board must draw within 3 % of the target.
func TestTunePowerTarget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  float64
		limits  bool
		reached bool
	}{
		{"lowering clocks", 30, false, true}, // 38 W at the start clock
		{"raising clocks", 42, false, true},
		{"after the limits", 34, true, true},
		{"above reach", 200, true, false},
		{"below reach", 20, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBoard(fakeLimits...)
			tu := newTuner(t, b, TuneConfig{Mode: TunePowerTarget, TargetW: tc.target, StartMHz: 500, FindLimits: tc.limits})
			r := runTuner(t, tu)
			_, _, w := b.state()
			if tc.reached && (math.Abs(w-tc.target) > 0.03*tc.target || math.Abs(r.PowerW-tc.target) > 0.03*tc.target) {
				t.Errorf("board draws %.2f W (measured %.2f), target %v", w, r.PowerW, tc.target)
			}
			if !tc.reached && !strings.Contains(r.Note, "out of reach") {
				t.Errorf("unreachable target: note %q", r.Note)
			}
			if tc.limits {
				for i, f := range r.ChipMHz {
					if f > r.LimitsMHz[i] {
						t.Errorf("chip %d at %v MHz above its limit %v", i, f, r.LimitsMHz[i])
					}
				}
			}
			checkApplied(t, b, r)
			t.Logf("%.2f W for %v W: %d measurements, %d samples", w, tc.target, tu.Progress().Step, b.samples)
		})
	}
}

// TestTuneEfficiency checks that the chosen point costs fewer J/TH than
// the starting point, at a lower voltage, within the error budget.
func TestTuneEfficiency(t *testing.T) {
	for _, limits := range []bool{false, true} {
		b := newFakeBoard(fakeLimits...)
		r := runTuner(t, newTuner(t, b, TuneConfig{Mode: TuneEfficiency, StartMHz: 500, FindLimits: limits, HashPerMHz: 1e9}))
		if r.Baseline == nil || len(r.Points) == 0 {
			t.Fatalf("result without its measurements: %+v", r)
		}
		gain := 1 - r.JPerTH/r.Baseline.JPerTH
		if gain < 0.05 || r.VoltageMV >= fakeStartMV || r.HWErrorRatio > 0.01 {
			t.Errorf("limits %v: %.2f J/TH at %v mV vs %.2f at the start (%.1f %% better), errors %.4f",
				limits, r.JPerTH, r.VoltageMV, r.Baseline.JPerTH, 100*gain, r.HWErrorRatio)
		}
		for _, pt := range r.Points {
			if pt.JPerTH < r.JPerTH*0.999 {
				t.Errorf("a better point was measured: %+v", pt)
			}
		}
		checkApplied(t, b, r)
		t.Logf("limits %v: %.3f → %.3f J/TH (%.1f %%), %v mV, %d samples", limits, r.Baseline.JPerTH, r.JPerTH, 100*gain, r.VoltageMV, b.samples)
	}
}

// TestTuneResume stops runs of every mode after n samples, saves the
// progress as JSON, resumes on a fresh tuner, and expects the result of
// an uninterrupted run.
func TestTuneResume(t *testing.T) {
	for _, cfg := range []TuneConfig{
		{Mode: TuneMaxHashrate, StartMHz: 400},
		{Mode: TunePowerTarget, TargetW: 34, StartMHz: 500, FindLimits: true},
		{Mode: TunePowerTarget, TargetW: 30, StartMHz: 500},
		{Mode: TuneEfficiency, StartMHz: 500},
	} {
		t.Run(fmt.Sprintf("%s limits %v", cfg.Mode, cfg.FindLimits), func(t *testing.T) {
			want := runTuner(t, newTuner(t, newFakeBoard(fakeLimits...), cfg))
			var phases []string
			defer func() { t.Logf("resumed in phases %v", phases) }()
			for _, stopAt := range []int{1, 2, 3, 5, 7, 23, 40, 52, 60, 90} {
				b := newFakeBoard(fakeLimits...)
				ctx, cancel := context.WithCancel(t.Context())
				b.onSample = func(n int) {
					if n == stopAt {
						cancel()
					}
				}
				var saved []byte
				c := cfg
				c.OnProgress = func(p Progress) {
					var err error
					if saved, err = json.Marshal(p); err != nil {
						t.Error(err)
					}
				}
				tu := newTuner(t, b, c)
				_, err := tu.Run(ctx)
				if err == nil {
					continue // finished before the stop
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("stop at sample %d: Run = %v", stopAt, err)
				}
				if s := tu.Status(); s.State != TuneStopped || s.Progress >= 1 {
					t.Errorf("status after the stop: %+v", s)
				}
				if mhz, mv, _ := b.state(); mv != fakeStartMV || slices.ContainsFunc(mhz, func(f float64) bool { return f != cfg.StartMHz }) {
					t.Errorf("after the stop the board runs at %v mV, %v MHz; want the starting point", mv, mhz)
				}
				if saved == nil { // stopped before the first measurement completed
					if saved, err = json.Marshal(tu.Progress()); err != nil {
						t.Fatal(err)
					}
				}
				p, err := ParseProgress(saved)
				if err != nil {
					t.Fatal(err)
				}
				b.onSample = nil
				next := newTuner(t, b, cfg)
				if err := next.Resume(p); err != nil {
					t.Fatal(err)
				}
				phases = append(phases, p.Phase)
				got := runTuner(t, next)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("stopped after sample %d, resumed: result differs (-uninterrupted +resumed):\n%s", stopAt, diff)
				}
			}
		})
	}
}

func TestTuneResumeRefusesOtherConfig(t *testing.T) {
	b := newFakeBoard(fakeLimits...)
	tu := newTuner(t, b, TuneConfig{Mode: TuneMaxHashrate, StartMHz: 400})
	ctx, cancel := context.WithCancel(t.Context())
	b.onSample = func(n int) {
		if n == 5 {
			cancel()
		}
	}
	if _, err := tu.Run(ctx); err == nil {
		t.Fatal("Run not stopped")
	}
	p := tu.Progress()
	other := newTuner(t, b, TuneConfig{Mode: TuneEfficiency, StartMHz: 400})
	if err := other.Resume(p); !errors.Is(err, ErrBadTuning) {
		t.Errorf("progress of another mode: %v", err)
	}
	fewer := newTuner(t, newFakeBoard(500, 600), TuneConfig{Mode: TuneMaxHashrate, StartMHz: 400})
	if err := fewer.Resume(p); !errors.Is(err, ErrBadTuning) {
		t.Errorf("progress of another board: %v", err)
	}
	if _, err := ParseProgress([]byte(`{"version":`)); err == nil {
		t.Error("truncated progress parsed")
	}
}

func TestTuneFailures(t *testing.T) {
	b := newFakeBoard(fakeLimits...)
	b.setErr = errFakeSet
	tu := newTuner(t, b, TuneConfig{Mode: TuneMaxHashrate, StartMHz: 400})
	if _, err := tu.Run(t.Context()); !errors.Is(err, errFakeSet) {
		t.Errorf("Run = %v", err)
	}
	if s := tu.Status(); s.State != TuneFailed || !strings.Contains(s.Message, "pll") {
		t.Errorf("status %+v", s)
	}
	b = newFakeBoard(fakeLimits...)
	b.short = true
	if _, err := newTuner(t, b, TuneConfig{Mode: TuneMaxHashrate}).Run(t.Context()); err == nil || !strings.Contains(err.Error(), "7 chips answered") {
		t.Errorf("short sample: %v", err)
	}
}

func TestTuneRunOnce(t *testing.T) {
	b := newFakeBoard(fakeLimits...)
	tu := newTuner(t, b, TuneConfig{Mode: TuneMaxHashrate, StartMHz: 400})
	b.onSample = func(n int) {
		if n == 1 {
			if _, err := tu.Run(t.Context()); !errors.Is(err, ErrTuning) {
				t.Errorf("second Run = %v", err)
			}
			if s := tu.Status(); s.State != TuneRunning {
				t.Errorf("status while running: %+v", s)
			}
		}
	}
	runTuner(t, tu)
}

func TestTuneConfigCheck(t *testing.T) {
	b := newFakeBoard(fakeLimits...)
	for _, cfg := range []TuneConfig{
		{Mode: "turbo"},
		{Mode: TunePowerTarget},
		{Mode: TunePowerTarget, TargetW: math.NaN()},
		{Mode: TuneMaxHashrate, StartMHz: 900},
		{Mode: TuneMaxHashrate, Budget: 0.9},
		{Mode: TuneMaxHashrate, StepUp: 0.01, Resolution: 0.02},
		{Mode: TuneEfficiency, MinScale: 1},
		{Mode: TuneEfficiency, HashPerMHz: math.Inf(1)},
	} {
		if _, err := NewTuner(b, cfg); !errors.Is(err, ErrBadTuning) {
			t.Errorf("NewTuner(%+v) = %v", cfg, err)
		}
	}
}

// TestApply checks the order of writes: a higher voltage before the
// clocks, a lower one after them.
func TestApply(t *testing.T) {
	b := newFakeBoard(600, 600)
	if err := Apply(b, Result{ChipMHz: []float64{500, 510}, VoltageMV: 1250}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(b, Result{ChipMHz: []float64{400, 410}, VoltageMV: 1100}); err != nil {
		t.Fatal(err)
	}
	want := []string{"v=1250", "f0=500.0", "f1=510.0", "f0=400.0", "f1=410.0", "v=1100"}
	if diff := cmp.Diff(want, b.calls); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	for _, r := range []Result{
		{ChipMHz: []float64{500}, VoltageMV: 1200},
		{ChipMHz: []float64{500, 900}, VoltageMV: 1200},
		{ChipMHz: []float64{500, 500}, VoltageMV: 2000},
		{ChipMHz: []float64{math.NaN(), 500}, VoltageMV: 1200},
	} {
		if err := Apply(b, r); !errors.Is(err, ErrBadTuning) {
			t.Errorf("Apply(%+v) = %v", r, err)
		}
	}
}
