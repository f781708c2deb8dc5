package control

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kilnfw/kiln/hal"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testFan is a fan whose duty the test reads back. Its tachometer reads
// DefaultRPMPerPercent per percent of duty like the simulated board's
// fan, unless the test has stalled it or broken its tachometer.
type testFan struct {
	mu      sync.Mutex
	duty    float64
	writes  int
	stopped bool  // the rotor is stuck: the tachometer reads 0
	tachErr error // the tachometer fails
}

func (f *testFan) SetDuty(p float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.duty, f.writes = p, f.writes+1
	return nil
}

func (f *testFan) RPM() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tachErr != nil {
		return 0, f.tachErr
	}
	if f.stopped {
		return 0, nil
	}
	return int(f.duty * DefaultRPMPerPercent), nil
}

func (f *testFan) set(stopped bool, tachErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped, f.tachErr = stopped, tachErr
}

func (f *testFan) state() (duty float64, writes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.duty, f.writes
}

// thermalPlant is a first-order model of a hash board's die temperature:
// it approaches ambient + kheat·cooling(duty) with time constant tau,
// where cooling falls from 1.5 with the fans stopped to 0.5 at full speed
// (the simulated board's law). Its sensor rounds to quantum °C.
type thermalPlant struct {
	ambient, kheat, tau, quantum float64
	temp                         float64
}

func (p *thermalPlant) advance(duty, dt float64) {
	steady := p.ambient + p.kheat*(1.5-duty/100)
	p.temp = steady + (p.temp-steady)*math.Exp(-dt/p.tau)
}

func (p *thermalPlant) read() (float64, bool) {
	if p.quantum > 0 {
		return math.Round(p.temp/p.quantum) * p.quantum, true
	}
	return p.temp, true
}

// fanClock steps a loop on a fake clock the way Run does: a tick every
// TachPeriod.
type fanClock struct{ now time.Time }

func (c *fanClock) tick(l *FanLoop) {
	l.tick(c.now, false)
	c.now = c.now.Add(TachPeriod)
}

func newLoop(t *testing.T, cfg FanConfig) *FanLoop {
	t.Helper()
	if cfg.Fans == nil {
		cfg.Fans = func() []hal.Fan { return nil }
	}
	l, err := NewFanLoopConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFanPolicyCheck(t *testing.T) {
	for _, tc := range []struct {
		p  FanPolicy
		ok bool
	}{
		{FanPolicy{Mode: ModeAuto, TargetC: 65}, true},
		{FanPolicy{Mode: ModeAuto, TargetC: 10}, false},
		{FanPolicy{Mode: ModeAuto, TargetC: math.NaN()}, false},
		{FanPolicy{Mode: ModeManual, Percent: 70}, true},
		{FanPolicy{Mode: ModeManual, Percent: 101}, false},
		{FanPolicy{Mode: ModeImmersion}, true},
		{FanPolicy{Mode: ModeAuto, TargetC: 65, MinPercent: 30, MaxPercent: 80}, true},
		{FanPolicy{Mode: ModeAuto, TargetC: 65, MinPercent: 80, MaxPercent: 30}, false},
		{FanPolicy{Mode: ModeAuto, TargetC: 65, MaxPercent: 15}, false}, // below the default floor
		{FanPolicy{Mode: ModeAuto, TargetC: 65, MinPercent: -1}, false},
		{FanPolicy{Mode: "turbo"}, false},
	} {
		if err := tc.p.Check(); (err == nil) != tc.ok {
			t.Errorf("Check(%+v) = %v", tc.p, err)
		}
		if err := tc.p.Check(); err != nil && !errors.Is(err, ErrBadPolicy) {
			t.Errorf("Check(%+v) = %v, not ErrBadPolicy", tc.p, err)
		}
	}
}

func TestFanLoopAuto(t *testing.T) {
	temp, ok := 60.0, true
	l := newLoop(t, FanConfig{Hottest: func() (float64, bool) { return temp, ok }, Policy: FanPolicy{Mode: ModeAuto, TargetC: 65}})
	c := fanClock{now: time.Unix(1000, 0)}
	step := func() { // one fan period
		for range FanPeriod / TachPeriod {
			c.tick(l)
		}
	}
	// Cold: the floor.
	step()
	if d := l.Duty(); d != DefaultMinDuty {
		t.Errorf("cold duty = %v, want %v", d, DefaultMinDuty)
	}
	// Warm: rises with the error and keeps rising while it persists.
	// (After two periods, when the derivative's kick has faded.)
	temp = 70
	step()
	step()
	first := l.Duty()
	for range 10 {
		step()
	}
	if first <= DefaultMinDuty || l.Duty() <= first || l.Duty() > 100 {
		t.Errorf("warm duties %v then %v", first, l.Duty())
	}
	// Far over target: full at once.
	temp = 65 + hotMargin + 1
	step()
	if d := l.Duty(); d != 100 {
		t.Errorf("hot duty = %v", d)
	}
	// No reading: full.
	temp, ok = 50, false
	step()
	if d := l.Duty(); d != 100 {
		t.Errorf("blind duty = %v", d)
	}
}

func TestFanLoopDutyBounds(t *testing.T) {
	temp := 40.0
	l := newLoop(t, FanConfig{Hottest: func() (float64, bool) { return temp, true },
		Policy: FanPolicy{Mode: ModeAuto, TargetC: 65, MinPercent: 35, MaxPercent: 80}})
	c := fanClock{now: time.Unix(0, 0)}
	for range 40 {
		c.tick(l)
	}
	if d := l.Duty(); d != 35 {
		t.Errorf("cold duty = %v, want the policy's minimum 35", d)
	}
	temp = 78 // hot, not beyond the margin that sends the fans to full
	for range 400 {
		c.tick(l)
	}
	if d := l.Duty(); d != 80 {
		t.Errorf("hot duty = %v, want the policy's maximum 80", d)
	}
}

// TestFanPIDSettles runs the loop against thermal plants from a quick
// simulated chain to a slow, hot board, each starting cold, and checks
// that the temperature settles within ±1 °C of the target without
// sustained oscillation and with a bounded overshoot.
func TestFanPIDSettles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plant  thermalPlant
		target float64
	}{
		{"sim chain", thermalPlant{ambient: 25, kheat: 35, tau: 5}, 65},
		{"sim chain, 1 °C sensor", thermalPlant{ambient: 25, kheat: 35, tau: 5, quantum: 1}, 65},
		{"fast die", thermalPlant{ambient: 25, kheat: 35, tau: 2, quantum: 1}, 55},
		{"slow hot board", thermalPlant{ambient: 30, kheat: 60, tau: 40, quantum: 0.5}, 70},
		{"heavy heatsink", thermalPlant{ambient: 30, kheat: 60, tau: 120, quantum: 0.5}, 70},
		{"near full duty", thermalPlant{ambient: 20, kheat: 80, tau: 20, quantum: 0.25}, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.plant
			p.temp = p.ambient
			l := newLoop(t, FanConfig{Hottest: p.read, Policy: FanPolicy{Mode: ModeAuto, TargetC: tc.target}})
			c := fanClock{now: time.Unix(0, 0)}
			const settle, window = 600 * time.Second, 600 * time.Second
			peak, lo, hi := math.Inf(-1), math.Inf(1), math.Inf(-1)
			for i := range (settle + window) / TachPeriod {
				c.tick(l)
				p.advance(l.Duty(), TachPeriod.Seconds())
				peak = max(peak, p.temp)
				if time.Duration(i)*TachPeriod >= settle {
					lo, hi = min(lo, p.temp), max(hi, p.temp)
				}
			}
			if lo < tc.target-1 || hi > tc.target+1 {
				t.Errorf("after settling the temperature ranged %.2f–%.2f °C, want %v ± 1", lo, hi, tc.target)
			}
			if hi-lo >= 2 {
				t.Errorf("peak-to-peak %.2f °C after settling, want < 2", hi-lo)
			}
			if peak > tc.target+5 {
				t.Errorf("overshoot to %.2f °C, want at most %v", peak, tc.target+5)
			}
			t.Logf("peak %.2f °C, settled %.2f–%.2f °C at %v %% duty", peak, lo, hi, l.Duty())
		})
	}
}

// TestFanPIDRejectsDisturbance raises the ambient temperature of a
// settled board and checks that the loop brings it back.
func TestFanPIDRejectsDisturbance(t *testing.T) {
	p := thermalPlant{ambient: 25, kheat: 35, tau: 10, quantum: 0.5, temp: 65}
	l := newLoop(t, FanConfig{Hottest: p.read, Policy: FanPolicy{Mode: ModeAuto, TargetC: 65}})
	c := fanClock{now: time.Unix(0, 0)}
	run := func(d time.Duration) {
		for range d / TachPeriod {
			c.tick(l)
			p.advance(l.Duty(), TachPeriod.Seconds())
		}
	}
	run(300 * time.Second)
	before := l.Duty()
	p.ambient = 32
	run(300 * time.Second)
	if math.Abs(p.temp-65) > 1 || l.Duty() <= before {
		t.Errorf("after a 7 °C warmer room: %.2f °C at %v %% duty (was %v %%)", p.temp, l.Duty(), before)
	}
}

// TestFanPIDAntiWindup holds a board above its target with the fans at
// full for ten minutes, then cools the room: the duty must leave 100 %
// within seconds of the temperature falling under the target, which a
// wound-up integral would prevent for minutes.
func TestFanPIDAntiWindup(t *testing.T) {
	p := thermalPlant{ambient: 60, kheat: 30, tau: 5, temp: 70}
	l := newLoop(t, FanConfig{Hottest: p.read, Policy: FanPolicy{Mode: ModeAuto, TargetC: 65}})
	c := fanClock{now: time.Unix(0, 0)}
	for range 600 * time.Second / TachPeriod {
		c.tick(l)
		p.advance(l.Duty(), TachPeriod.Seconds())
	}
	if d := l.Duty(); d != 100 || p.temp < 70 {
		t.Fatalf("saturated phase: %v %% at %.2f °C", d, p.temp)
	}
	p.ambient = 30
	var below time.Time
	for range 120 * time.Second / TachPeriod {
		c.tick(l)
		p.advance(l.Duty(), TachPeriod.Seconds())
		if below.IsZero() && p.temp < 64 {
			below = c.now
		}
		if !below.IsZero() && l.Duty() < 100 {
			if late := c.now.Sub(below); late > 5*time.Second {
				t.Errorf("duty left saturation %v after the temperature fell below target", late)
			}
			return
		}
	}
	t.Fatalf("duty never left saturation; temperature %.2f °C", p.temp)
}

// TestPIDDerivativeOnMeasurement checks that the derivative answers a
// rising temperature and ignores a change of target.
func TestPIDDerivativeOnMeasurement(t *testing.T) {
	c := pid{g: PIDGains{Kd: 10, DerivFilter: time.Second}}
	c.preset(50, 60, 60, 0, 100)
	if out := c.update(60, 60, 1, 0, 100); out != 50 {
		t.Errorf("steady output = %v, want 50", out)
	}
	if out := c.update(60, 50, 1, 0, 100); out != 50 {
		t.Errorf("after a target change the output moved to %v", out)
	}
	if out := c.update(62, 50, 1, 0, 100); !(out > 50) {
		t.Errorf("rising temperature gave %v, want more than 50", out)
	}
}

func TestFanLoopManualAppliesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &testFan{}
		loop, err := NewFanLoop(func() []hal.Fan { return []hal.Fan{f} }, func() (float64, bool) { return 50, true }, FanPolicy{Mode: ModeManual, Percent: 40}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { done <- loop.Run(ctx) }()
		synctest.Wait()
		if d, _ := f.state(); d != 40 {
			t.Errorf("duty at start = %v, want 40", d)
		}
		if err := loop.Set(FanPolicy{Mode: ModeManual, Percent: 70}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // no time passes: applied before the next period
		if d, _ := f.state(); d != 70 {
			t.Errorf("duty after Set = %v, want 70", d)
		}
		if err := loop.Set(FanPolicy{Mode: ModeManual, Percent: -1}); err == nil {
			t.Error("bad policy accepted")
		}
		if p := loop.Policy(); p.Percent != 70 {
			t.Errorf("policy after a refused Set = %+v", p)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestFanLoopImmersion(t *testing.T) {
	f := &testFan{stopped: true}
	l := newLoop(t, FanConfig{Fans: func() []hal.Fan { return []hal.Fan{f} },
		Hottest: func() (float64, bool) { return 95, true }, Policy: FanPolicy{Mode: ModeImmersion}})
	c := fanClock{now: time.Unix(0, 0)}
	for range 40 {
		c.tick(l)
	}
	if _, writes := f.state(); writes != 0 || l.Duty() != 0 || len(l.Stalled()) != 0 || len(l.RPMs()) != 0 {
		t.Errorf("immersion: %d fan writes, duty %v, stalled %v, rpms %v", writes, l.Duty(), l.Stalled(), l.RPMs())
	}
	// Leaving immersion drives the fans again, and watches them.
	if err := l.Set(FanPolicy{Mode: ModeAuto, TargetC: 65}); err != nil {
		t.Fatal(err)
	}
	l.tick(c.now, true)
	if d, writes := f.state(); writes != 1 || d != 100 {
		t.Errorf("after immersion: %d writes, duty %v; want full duty from the hot board", writes, d)
	}
}

// TestFanStall checks the tachometer watch on a fake clock: a stuck fan is
// reported after StallAfter (not before), a fan spinning up from rest or
// idling below 10 % duty is not, and a failed tachometer counts as stuck.
func TestFanStall(t *testing.T) {
	for _, tc := range []struct {
		name    string
		percent float64
		stopped bool
		tachErr error
		want    bool
	}{
		{"running", 50, false, nil, false},
		{"stuck rotor", 50, true, nil, true},
		{"tachometer fails", 50, false, errors.New("i2c: no ack"), true},
		{"idling below 10 %", 5, true, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good, bad := &testFan{}, &testFan{}
			l := newLoop(t, FanConfig{Fans: func() []hal.Fan { return []hal.Fan{good, bad} },
				Hottest: func() (float64, bool) { return 60, true }, Policy: FanPolicy{Mode: ModeManual, Percent: tc.percent}})
			c := fanClock{now: time.Unix(0, 0)}
			c.tick(l)
			bad.set(tc.stopped, tc.tachErr)
			for range DefaultStallAfter / TachPeriod { // up to StallAfter since the first low reading
				c.tick(l)
				if s := l.Stalled(); len(s) != 0 {
					t.Fatalf("stalled %v before StallAfter", s)
				}
			}
			c.tick(l)
			if got := l.Stalled(); (len(got) == 1 && got[0] == 1) != tc.want || len(got) > 1 {
				t.Errorf("Stalled() = %v, want fan 1: %v", got, tc.want)
			}
			bad.set(false, nil)
			c.tick(l)
			if s := l.Stalled(); len(s) != 0 {
				t.Errorf("stalled %v after the fan recovered", s)
			}
			if rpm := l.RPMs(); len(rpm) != 2 || rpm[0] != int(tc.percent*DefaultRPMPerPercent) {
				t.Errorf("RPMs() = %v", rpm)
			}
		})
	}
}

// TestFanStallSpinUp starts a fan from rest: it reads 0 for half a second
// while it spins up, which is not a stall.
func TestFanStallSpinUp(t *testing.T) {
	f := &testFan{stopped: true}
	l := newLoop(t, FanConfig{Fans: func() []hal.Fan { return []hal.Fan{f} },
		Hottest: func() (float64, bool) { return 60, true }, Policy: FanPolicy{Mode: ModeManual, Percent: 60}})
	c := fanClock{now: time.Unix(0, 0)}
	for i := range 20 {
		if i == 2 {
			f.set(false, nil)
		}
		c.tick(l)
		if s := l.Stalled(); len(s) != 0 {
			t.Fatalf("tick %d: stalled %v while spinning up", i, s)
		}
	}
}

// TestFanStallRun checks the detection through Run on the bubble's clock:
// a fan that stops is reported within StallAfter plus two tachometer
// periods.
func TestFanStallRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &testFan{}
		l := newLoop(t, FanConfig{Fans: func() []hal.Fan { return []hal.Fan{f} },
			Hottest: func() (float64, bool) { return 60, true }, Policy: FanPolicy{Mode: ModeAuto, TargetC: 65}})
		go func() { _ = l.Run(t.Context()) }()
		time.Sleep(3 * TachPeriod)
		f.set(true, nil)
		start := time.Now()
		for len(l.Stalled()) == 0 {
			if time.Since(start) > DefaultStallAfter+2*TachPeriod {
				t.Fatalf("stall not reported %v after the fan stopped", time.Since(start))
			}
			time.Sleep(TachPeriod / 5)
		}
	})
}
