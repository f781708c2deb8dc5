package gpioline

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// edge is one level the pin was driven to, and when (in bubble time since
// the test started).
type edge struct {
	Level gpio.Level
	At    time.Duration
}

// scope is a gpiotest.Pin that also records every level written to it, so
// a test sees the whole pulse, not just the last level. failAt makes the
// n-th Out (1-based) fail.
type scope struct {
	*gpiotest.Pin
	start  time.Time
	edges  []edge
	failAt int
}

var errPin = errors.New("line request failed")

func newScope(name string) *scope {
	return &scope{Pin: &gpiotest.Pin{N: name, Num: 1, L: gpio.High}, start: time.Now()}
}

func (s *scope) Out(l gpio.Level) error {
	if s.failAt == len(s.edges)+1 {
		s.edges = append(s.edges, edge{l, -1})
		return errPin
	}
	s.edges = append(s.edges, edge{l, time.Since(s.start)})
	return s.Pin.Out(l)
}

func TestResetPulse(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ResetConfig
		want []edge
		took time.Duration
	}{
		{"defaults", ResetConfig{}, []edge{{gpio.Low, 0}, {gpio.High, 100 * time.Millisecond}}, 200 * time.Millisecond},
		{"custom", ResetConfig{Hold: 10 * time.Millisecond, Settle: 250 * time.Millisecond},
			[]edge{{gpio.Low, 0}, {gpio.High, 10 * time.Millisecond}}, 260 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pin := newScope("RST_N")
				start := time.Now()
				if err := NewReset(pin, tc.cfg).Reset(t.Context()); err != nil {
					t.Fatalf("Reset: %v", err)
				}
				if diff := cmp.Diff(tc.want, pin.edges); diff != "" {
					t.Errorf("pulse (-want +got):\n%s", diff)
				}
				if took := time.Since(start); took != tc.took {
					t.Errorf("Reset took %v, want %v", took, tc.took)
				}
				if pin.Read() != gpio.High {
					t.Error("line not left high")
				}
			})
		})
	}
}

func TestResetCancelledKeepsLineLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pin := newScope("RST_N")
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		err := NewReset(pin, ResetConfig{}).Reset(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Reset: %v, want deadline exceeded", err)
		}
		if pin.Read() != gpio.Low {
			t.Error("cancelled reset released the line")
		}
		if diff := cmp.Diff([]edge{{gpio.Low, 0}}, pin.edges); diff != "" {
			t.Errorf("edges (-want +got):\n%s", diff)
		}
	})
}

func TestResetPinErrors(t *testing.T) {
	for _, failAt := range []int{1, 2} {
		synctest.Test(t, func(t *testing.T) {
			pin := newScope("RST_N")
			pin.failAt = failAt
			err := NewReset(pin, ResetConfig{}).Reset(t.Context())
			if !errors.Is(err, errPin) {
				t.Errorf("Out #%d failing: Reset = %v, want errPin", failAt, err)
			}
			if len(pin.edges) != failAt {
				t.Errorf("Out #%d failing: %d writes, want Reset to stop there", failAt, len(pin.edges))
			}
		})
	}
}

func TestHoldRelease(t *testing.T) {
	pin := newScope("RST_N")
	r := NewReset(pin, ResetConfig{})
	if err := r.Hold(); err != nil || pin.Read() != gpio.Low {
		t.Errorf("Hold: %v, level %v", err, pin.Read())
	}
	if err := r.Release(); err != nil || pin.Read() != gpio.High {
		t.Errorf("Release: %v, level %v", err, pin.Read())
	}
	pin.failAt = 3
	if err := r.Hold(); !errors.Is(err, errPin) {
		t.Errorf("Hold on a failing pin: %v", err)
	}
}

func TestPowerSwitch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		activeLow bool
		on, off   gpio.Level
	}{
		{"active low (Bitaxe GPIO10)", true, gpio.Low, gpio.High},
		{"active high", false, gpio.High, gpio.Low},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin := newScope("EN")
			sw := NewPowerSwitch(pin, tc.activeLow)
			if err := sw.SetPower(true); err != nil || pin.Read() != tc.on {
				t.Errorf("SetPower(true): %v, level %v, want %v", err, pin.Read(), tc.on)
			}
			if err := sw.SetPower(false); err != nil || pin.Read() != tc.off {
				t.Errorf("SetPower(false): %v, level %v, want %v", err, pin.Read(), tc.off)
			}
			pin.failAt = 3
			if err := sw.SetPower(true); !errors.Is(err, errPin) {
				t.Errorf("SetPower on a failing pin: %v", err)
			}
		})
	}
}
