package control

import (
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/hal"
)

// recordingFan is a fan whose duty the test reads back; it speaks the
// hal.Fan interface the way the simulated board's fan does.
type recordingFan struct {
	mu   sync.Mutex
	duty float64
	set  chan float64
}

func newRecordingFan() *recordingFan { return &recordingFan{set: make(chan float64, 64)} }

func (f *recordingFan) SetDuty(p float64) error {
	f.mu.Lock()
	f.duty = p
	f.mu.Unlock()
	select {
	case f.set <- p:
	default:
	}
	return nil
}

func (f *recordingFan) RPM() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.duty * 60), nil
}

func TestFanPolicyCheck(t *testing.T) {
	for _, tc := range []struct {
		p  FanPolicy
		ok bool
	}{
		{FanPolicy{Mode: ModeAuto, TargetC: 65}, true},
		{FanPolicy{Mode: ModeAuto, TargetC: 10}, false},
		{FanPolicy{Mode: ModeManual, Percent: 70}, true},
		{FanPolicy{Mode: ModeManual, Percent: 101}, false},
		{FanPolicy{Mode: "turbo"}, false},
	} {
		if err := tc.p.Check(); (err == nil) != tc.ok {
			t.Errorf("Check(%+v) = %v", tc.p, err)
		}
	}
}

func TestFanLoopAuto(t *testing.T) {
	temp, ok := 60.0, true
	l, err := NewFanLoop(func() []hal.Fan { return nil }, func() (float64, bool) { return temp, ok }, FanPolicy{Mode: ModeAuto, TargetC: 65}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Cold: the floor.
	l.step(1)
	if d := l.Duty(); d != MinAutoDuty {
		t.Errorf("cold duty = %v, want %v", d, MinAutoDuty)
	}
	// Warm: rises with the error and keeps rising while it persists.
	temp = 70
	l.step(1)
	first := l.Duty()
	for range 10 {
		l.step(1)
	}
	if first <= MinAutoDuty || l.Duty() <= first || l.Duty() > 100 {
		t.Errorf("warm duties %v then %v", first, l.Duty())
	}
	// Far over target: full at once.
	temp = 65 + hotMargin + 1
	l.step(1)
	if d := l.Duty(); d != 100 {
		t.Errorf("hot duty = %v", d)
	}
	// No reading: full.
	temp, ok = 50, false
	l.step(1)
	if d := l.Duty(); d != 100 {
		t.Errorf("blind duty = %v", d)
	}
}

func TestFanLoopManualAppliesAtOnce(t *testing.T) {
	f := newRecordingFan()
	loop, err := NewFanLoop(func() []hal.Fan { return []hal.Fan{f} }, func() (float64, bool) { return 50, true }, FanPolicy{Mode: ModeManual, Percent: 40}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	go func() { _ = loop.Run(ctx) }()
	waitDuty(t, f, 40)
	if err := loop.Set(FanPolicy{Mode: ModeManual, Percent: 70}); err != nil {
		t.Fatal(err)
	}
	waitDuty(t, f, 70) // well before the next period
	if err := loop.Set(FanPolicy{Mode: ModeManual, Percent: -1}); err == nil {
		t.Error("bad policy accepted")
	}
	if p := loop.Policy(); p.Percent != 70 {
		t.Errorf("policy after a refused Set = %+v", p)
	}
}

func waitDuty(t *testing.T, f *recordingFan, want float64) {
	t.Helper()
	deadline := time.After(FanPeriod / 2 * 3)
	for {
		select {
		case d := <-f.set:
			if d == want {
				return
			}
		case <-deadline:
			t.Fatalf("duty %v never set", want)
		}
	}
}
