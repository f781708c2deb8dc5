package control

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kilnfw/kiln/hal"
)

// fakePlant is a board of chains as the guard sees it. A stopped chain
// reads 0 mV on its core; a chain with a bad regulator reads 85 % of its
// setpoint while powered.
type fakePlant struct {
	mu       sync.Mutex
	temps    []float64
	tempErr  []error
	vBad     []bool
	vErr     []error
	stalled  []int
	running  []bool
	factor   []float64
	stops    []int
	starts   []time.Time
	throttle [][]float64 // factors asked of each chain
	stopErr  error
	startErr error
	now      *time.Time // the rig's clock, to stamp starts
}

const setpointMV = 1200

func newFakePlant(chains int, now *time.Time) *fakePlant {
	p := &fakePlant{now: now, temps: make([]float64, chains), tempErr: make([]error, chains),
		vBad: make([]bool, chains), vErr: make([]error, chains), running: make([]bool, chains),
		factor: make([]float64, chains), stops: make([]int, chains), throttle: make([][]float64, chains)}
	for i := range chains {
		p.temps[i], p.running[i], p.factor[i] = 60, true, 1
	}
	return p
}

func (p *fakePlant) Chains() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.temps) }

func (p *fakePlant) Temperature(i int) (float64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.temps[i], p.tempErr[i]
}

func (p *fakePlant) Voltage(i int) (float64, float64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.vErr[i] != nil:
		return 0, setpointMV, p.vErr[i]
	case !p.running[i]:
		return 0, setpointMV, nil
	case p.vBad[i]:
		return 0.85 * setpointMV, setpointMV, nil
	}
	return setpointMV, setpointMV, nil
}

func (p *fakePlant) Fans() ([]int, []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return []int{3000, 3000}, slices.Clone(p.stalled)
}

func (p *fakePlant) Throttle(i int, f float64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.factor[i] = f
	p.throttle[i] = append(p.throttle[i], f)
	return nil
}

func (p *fakePlant) Stop(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stops[i]++
	if p.stopErr != nil {
		return p.stopErr
	}
	p.running[i] = false
	return nil
}

func (p *fakePlant) Start(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.startErr != nil {
		return p.startErr
	}
	p.running[i], p.factor[i] = true, 1
	p.starts = append(p.starts, *p.now)
	return nil
}

func (p *fakePlant) set(fn func(p *fakePlant)) { p.mu.Lock(); fn(p); p.mu.Unlock() }

// guardRig runs a guard over a fake plant on a fake clock.
type guardRig struct {
	t      *testing.T
	p      *fakePlant
	g      *Guard
	now    time.Time
	events []Event
}

func newRig(t *testing.T, chains int, lim Limits) *guardRig {
	t.Helper()
	r := &guardRig{t: t, now: time.Unix(1_700_000_000, 0)}
	r.p = newFakePlant(chains, &r.now)
	g, err := NewGuard(GuardConfig{Plant: r.p, Limits: lim, Now: func() time.Time { return r.now },
		OnEvent: func(e Event) { r.events = append(r.events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	r.step() // the first look: everything as it was at boot
	return r
}

// step evaluates once and moves the clock one period on.
func (r *guardRig) step() {
	r.g.evaluate(r.now)
	r.now = r.now.Add(GuardPeriod)
}

// run steps for d.
func (r *guardRig) run(d time.Duration) {
	for range d / GuardPeriod {
		r.step()
	}
}

// until steps until cond holds and returns the time that took; it fails
// the test after limit.
func (r *guardRig) until(what string, limit time.Duration, cond func() bool) time.Duration {
	r.t.Helper()
	for elapsed := time.Duration(0); elapsed <= limit; elapsed += GuardPeriod {
		r.step()
		if cond() {
			return elapsed + GuardPeriod
		}
	}
	r.t.Fatalf("%s: not within %v; states %+v", what, limit, r.g.State())
	return 0
}

func (r *guardRig) state(i int) string { return r.g.State()[i].State }

func (r *guardRig) kinds() []string {
	var out []string
	for _, e := range r.events {
		out = append(out, e.Kind)
	}
	return out
}

func TestLimitsCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		ok   bool
	}{
		{"defaults", Limits{}, true},
		{"profile override", Limits{HotC: 70, DangerousC: 85}, true},
		{"hot above dangerous", Limits{HotC: 95}, false},
		{"dangerous above valid range", Limits{DangerousC: 160}, false},
		{"negative hysteresis", Limits{HysteresisC: -1}, false},
		{"tolerance of 100 %", Limits{VoltageTolerance: 1}, false},
		{"floor above 1", Limits{MinFactor: 1.5}, false},
		{"NaN", Limits{HotC: math.NaN()}, false},
		{"negative window", Limits{RestartWindow: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Check()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadLimits)) {
				t.Errorf("Check() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestGuardStopsAndRecovers checks every stop condition: the action
// within 2 s, the event, and the restart once the cause has stayed
// cleared for RecoverAfter (not before).
func TestGuardStopsAndRecovers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   func(p *fakePlant)
		clear   func(p *fakePlant)
		all     bool   // every chain stops, not only chain 0
		because string // in the reason
		blind   bool   // the fault cannot be seen on a stopped chain
	}{
		{"danger heat", func(p *fakePlant) { p.temps[0] = 91 }, func(p *fakePlant) { p.temps[0] = 65 }, false, "90 °C limit", false},
		{"sensor error", func(p *fakePlant) { p.tempErr[0] = errors.New("i2c: no ack") }, func(p *fakePlant) { p.tempErr[0] = nil }, false, "no ack", false},
		{"reading too high", func(p *fakePlant) { p.temps[0] = 151 }, func(p *fakePlant) { p.temps[0] = 60 }, false, "outside", false},
		{"reading too low", func(p *fakePlant) { p.temps[0] = -21 }, func(p *fakePlant) { p.temps[0] = 60 }, false, "outside", false},
		{"reading NaN", func(p *fakePlant) { p.temps[0] = math.NaN() }, func(p *fakePlant) { p.temps[0] = 60 }, false, "outside", false},
		{"reading jumps", func(p *fakePlant) { p.temps[0] = 60 + 31 - 20 }, func(p *fakePlant) { p.temps[0] = 60 }, false, "jumped", false},
		{"fan stalled", func(p *fakePlant) { p.stalled = []int{1} }, func(p *fakePlant) { p.stalled = nil }, true, "fan stalled", false},
		{"core voltage low", func(p *fakePlant) { p.vBad[0] = true }, func(p *fakePlant) { p.vBad[0] = false }, false, "core voltage", true},
		{"core voltage unreadable", func(p *fakePlant) { p.vErr[0] = errors.New("pmbus: timeout") }, func(p *fakePlant) { p.vErr[0] = nil }, false, "unreadable", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 2, Limits{})
			if tc.name == "reading jumps" {
				r.p.set(func(p *fakePlant) { p.temps[0] = 40 })
				r.run(time.Second)
			}
			r.p.set(tc.fault)
			took := r.until("stop", 2*time.Second, func() bool { return r.state(0) == StateStopped })
			if took > 2*time.Second || r.p.running[0] {
				t.Errorf("stopped after %v, plant running %v", took, r.p.running[0])
			}
			if got := r.state(1) == StateStopped; got != tc.all {
				t.Errorf("chain 1 stopped %v, want %v", got, tc.all)
			}
			st := r.g.State()[0]
			if !contains(st.Reason, tc.because) || st.Factor != 0 {
				t.Errorf("state %+v, want reason with %q and factor 0", st, tc.because)
			}
			if e := r.events[0]; e.Kind != "stop" || e.Level != LevelError || e.Source != EventSource || e.Chain != 0 || !contains(e.Message, tc.because) {
				t.Errorf("event %+v", e)
			}
			if !tc.blind {
				r.run(30 * time.Second) // the fault persists: no restart
				if r.state(0) != StateStopped || len(r.p.starts) != 0 {
					t.Fatalf("restarted while the fault persists: %+v", r.g.State())
				}
			}
			r.p.set(tc.clear)
			took = r.until("restart", DefaultLimits.RecoverAfter+2*GuardPeriod, func() bool { return r.state(0) == StateOK })
			if took < DefaultLimits.RecoverAfter {
				t.Errorf("restarted %v after the cause cleared, want at least %v", took, DefaultLimits.RecoverAfter)
			}
			r.run(10 * time.Second)
			if st := r.g.State()[0]; st.State != StateOK || st.Restarts != 1 || !r.p.running[0] || !slices.Contains(r.kinds(), "restart") {
				t.Errorf("after recovery: %+v, running %v, events %v", st, r.p.running[0], r.kinds())
			}
		})
	}
}

// TestGuardThrottle holds a chain hot: it throttles a step per period to
// the floor, holds inside the hysteresis band, and steps back up once
// cool, with one event each way.
func TestGuardThrottle(t *testing.T) {
	r := newRig(t, 2, Limits{})
	r.p.set(func(p *fakePlant) { p.temps[0] = 76 })
	r.step()
	if st := r.g.State()[0]; st.State != StateThrottled || st.Factor != 0.9 || r.p.factor[0] != 0.9 {
		t.Fatalf("after one hot period: %+v, plant factor %v", st, r.p.factor[0])
	}
	r.run(10 * time.Second)
	if f := r.g.State()[0].Factor; f != 0.5 {
		t.Errorf("factor held hot = %v, want the 0.5 floor", f)
	}
	r.p.set(func(p *fakePlant) { p.temps[0] = 72 }) // below hot, inside the hysteresis
	r.run(10 * time.Second)
	if f := r.g.State()[0].Factor; f != 0.5 {
		t.Errorf("factor in the hysteresis band = %v, want held at 0.5", f)
	}
	r.p.set(func(p *fakePlant) { p.temps[0] = 69 })
	r.run(5 * GuardPeriod)
	if st := r.g.State()[0]; st.State != StateOK || st.Factor != 1 || r.p.factor[0] != 1 {
		t.Errorf("after cooling: %+v, plant factor %v", st, r.p.factor[0])
	}
	want := []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
	if !slices.Equal(r.p.throttle[0], want) {
		t.Errorf("factors asked = %v, want %v", r.p.throttle[0], want)
	}
	if k := r.kinds(); !slices.Equal(k, []string{"throttle", "unthrottle"}) || r.events[0].Level != LevelWarn {
		t.Errorf("events %v", r.events)
	}
	if len(r.p.throttle[1]) != 0 || r.state(1) != StateOK {
		t.Errorf("chain 1 touched: %v", r.p.throttle[1])
	}
}

// TestGuardNoFlapping feeds readings that hover at a threshold: the chain
// changes state once at most.
func TestGuardNoFlapping(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lo, hi     float64
		stopFirst  bool // the chain is stopped (too hot) before the hovering
		wantEvents []string
	}{
		{"at hot", 74.8, 75.2, false, []string{"throttle"}},
		{"at the hysteresis edge while throttled", 69.9, 70.1, false, []string{"throttle", "unthrottle"}},
		{"at danger", 89.9, 90.1, false, []string{"throttle", "stop"}},
		{"at the restart edge while stopped", 69.8, 70.2, true, []string{"stop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 1, Limits{})
			if tc.stopFirst {
				r.p.set(func(p *fakePlant) { p.temps[0] = 91 })
				r.step()
			} else if tc.lo < 75 {
				r.p.set(func(p *fakePlant) { p.temps[0] = 76 })
				r.step()
			}
			for i := range 2 * time.Minute / GuardPeriod {
				temp := tc.lo
				if i%2 == 1 {
					temp = tc.hi
				}
				r.p.set(func(p *fakePlant) { p.temps[0] = temp })
				r.step()
			}
			if k := r.kinds(); !slices.Equal(k, tc.wantEvents) {
				t.Errorf("events %v, want %v", k, tc.wantEvents)
			}
			if len(r.p.starts) != 0 {
				t.Errorf("%d restarts", len(r.p.starts))
			}
		})
	}
}

// TestGuardRestartLimit overheats a chain again after every restart: it
// gets MaxRestarts restarts, then stays locked until Reset.
func TestGuardRestartLimit(t *testing.T) {
	r := newRig(t, 1, Limits{})
	overheat := func() {
		r.p.set(func(p *fakePlant) { p.temps[0] = 95 })
		r.step()
		r.p.set(func(p *fakePlant) { p.temps[0] = 60 })
	}
	for i := range 3 {
		overheat()
		r.until("restart", 11*time.Second, func() bool { return r.state(0) == StateOK })
		if n := r.g.State()[0].Restarts; n != i+1 {
			t.Fatalf("restarts = %d, want %d", n, i+1)
		}
	}
	overheat()
	if st := r.g.State()[0]; st.State != StateLocked || !contains(st.Reason, "90 °C") {
		t.Fatalf("fourth stop: %+v", st)
	}
	if e := r.events[len(r.events)-1]; e.Kind != "lock" || e.Level != LevelError {
		t.Errorf("last event %+v", e)
	}
	r.run(30 * time.Minute) // cool, and past the window: still locked
	if r.state(0) != StateLocked || len(r.p.starts) != 3 {
		t.Fatalf("locked chain: %+v, %d starts", r.g.State(), len(r.p.starts))
	}
	if err := r.g.Reset(0); err != nil {
		t.Fatal(err)
	}
	r.step() // the cause has long been clear: restart at once
	if st := r.g.State()[0]; st.State != StateOK || st.Restarts != 1 || len(r.p.starts) != 4 {
		t.Errorf("after Reset: %+v, %d starts", st, len(r.p.starts))
	}
	if err := r.g.Reset(7); !errors.Is(err, ErrNoChain) {
		t.Errorf("Reset(7) = %v", err)
	}
}

// TestGuardRestartWindow spaces the overheats six minutes apart: old
// restarts leave the window, so the chain never locks.
func TestGuardRestartWindow(t *testing.T) {
	r := newRig(t, 1, Limits{})
	for range 5 {
		r.p.set(func(p *fakePlant) { p.temps[0] = 95 })
		r.step()
		r.p.set(func(p *fakePlant) { p.temps[0] = 60 })
		r.run(6 * time.Minute)
		if st := r.g.State()[0]; st.State != StateOK || st.Restarts > 3 {
			t.Fatalf("state %+v", st)
		}
	}
	if len(r.p.starts) != 5 {
		t.Errorf("%d restarts, want 5", len(r.p.starts))
	}
}

// TestGuardVoltageRelapse gives a chain a regulator that stays bad: every
// restart is judged after the start grace, and the chain ends locked.
func TestGuardVoltageRelapse(t *testing.T) {
	r := newRig(t, 2, Limits{})
	r.p.set(func(p *fakePlant) { p.vBad[0] = true })
	r.until("lock", 2*time.Minute, func() bool { return r.state(0) == StateLocked })
	if len(r.p.starts) != 3 || r.p.stops[0] != 4 || r.state(1) != StateOK {
		t.Errorf("%d starts, %d stops, chain 1 %s", len(r.p.starts), r.p.stops[0], r.state(1))
	}
}

// TestGuardStopFails keeps refusing Stop: the guard retries every period,
// and does not restart a chain it could not stop.
func TestGuardStopFails(t *testing.T) {
	r := newRig(t, 1, Limits{})
	r.p.set(func(p *fakePlant) { p.temps[0], p.stopErr = 95, errors.New("gpio: busy") })
	r.run(time.Second)
	if r.p.stops[0] != 4 || !slices.Equal(r.kinds(), []string{"stop", "stop_failed"}) {
		t.Errorf("%d stop calls, events %v", r.p.stops[0], r.kinds())
	}
	r.p.set(func(p *fakePlant) { p.temps[0], p.stopErr = 60, nil })
	r.step()
	if r.p.running[0] || r.p.stops[0] != 5 {
		t.Fatalf("stop not retried: %d calls", r.p.stops[0])
	}
	r.until("restart", 11*time.Second, func() bool { return r.state(0) == StateOK })
}

// unsupportedPlant has no sensors at all.
type unsupportedPlant struct{ *fakePlant }

func (unsupportedPlant) Temperature(int) (float64, error)      { return 0, ErrUnsupported }
func (unsupportedPlant) Voltage(int) (float64, float64, error) { return 0, 0, ErrUnsupported }

func TestGuardUnsupportedReadings(t *testing.T) {
	now := time.Unix(0, 0)
	p := unsupportedPlant{newFakePlant(2, &now)}
	g, err := NewGuard(GuardConfig{Plant: p, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		g.evaluate(now)
		now = now.Add(GuardPeriod)
	}
	for _, st := range g.State() {
		if st.State != StateOK || st.Factor != 1 {
			t.Errorf("state %+v on a board without sensors", st)
		}
	}
	p.set(func(p *fakePlant) { p.stalled = []int{0} }) // fans are still watched
	g.evaluate(now)
	if st := g.State()[1]; st.State != StateStopped {
		t.Errorf("fan stall on a board without sensors: %+v", st)
	}
}

func TestGuardSetLimits(t *testing.T) {
	r := newRig(t, 1, Limits{})
	if err := r.g.SetLimits(Limits{HotC: 95}); err == nil {
		t.Error("hot above dangerous accepted")
	}
	if err := r.g.SetLimits(Limits{HotC: 60, DangerousC: 80}); err != nil {
		t.Fatal(err)
	}
	r.p.set(func(p *fakePlant) { p.temps[0] = 62 })
	r.step()
	if st := r.g.State()[0]; st.State != StateThrottled || r.g.Limits().HysteresisC != 5 {
		t.Errorf("with hot at 60 °C: %+v, limits %+v", st, r.g.Limits())
	}
}

// TestGuardRun drives the guard through Run on the bubble's clock: a
// chain that overheats is stopped within 2 s, and Run ends with ctx.
func TestGuardRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		p := newFakePlant(1, &now)
		events := make(chan Event, 16)
		g, err := NewGuard(GuardConfig{Plant: p, OnEvent: func(e Event) { events <- e }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		time.Sleep(time.Second)
		p.set(func(p *fakePlant) { p.temps[0] = 92 })
		start := time.Now()
		select {
		case e := <-events:
			if e.Kind != "stop" || time.Since(start) > 2*time.Second {
				t.Errorf("event %+v after %v", e, time.Since(start))
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no stop within 2 s")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func contains(s, sub string) bool { return len(sub) == 0 || strings.Contains(s, sub) }

// loopPlant takes its fan readings from a real fan loop.
type loopPlant struct {
	*fakePlant
	loop *FanLoop
}

func (p loopPlant) Fans() ([]int, []int) { return p.loop.Fans() }

// TestGuardStopsOnFanLoopStall runs a fan loop and a guard together on the
// bubble's clock: when a fan's rotor sticks, every chain is stopped within
// 2 s.
func TestGuardStopsOnFanLoopStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fans := []*testFan{{}, {}}
		loop := newLoop(t, FanConfig{Fans: func() []hal.Fan { return []hal.Fan{fans[0], fans[1]} },
			Hottest: func() (float64, bool) { return 60, true }, Policy: FanPolicy{Mode: ModeAuto, TargetC: 65}})
		now := time.Now()
		p := loopPlant{newFakePlant(2, &now), loop}
		g, err := NewGuard(GuardConfig{Plant: p})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = loop.Run(t.Context()) }()
		go func() { _ = g.Run(t.Context()) }()
		time.Sleep(5 * time.Second)
		if st := g.State(); st[0].State != StateOK || st[1].State != StateOK {
			t.Fatalf("before the stall: %+v", st)
		}
		fans[1].set(true, nil)
		start := time.Now()
		for g.State()[0].State != StateStopped || g.State()[1].State != StateStopped {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("chains not stopped %v after the fan stuck: %+v", time.Since(start), g.State())
			}
			time.Sleep(GuardPeriod / 5)
		}
		t.Logf("stopped %v after the fan stuck", time.Since(start))
	})
}
