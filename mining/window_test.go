package mining

import (
	"testing"
	"time"
)

func TestRateWindow(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	w := NewRateWindow(start, time.Minute, 12) // 5 s slots
	if w.Span() != time.Minute {
		t.Fatalf("span %v", w.Span())
	}
	// 10 events a second for two minutes, one add per second.
	for s := 0; s < 120; s++ {
		w.Add(start.Add(time.Duration(s)*time.Second), 10)
	}
	at := start.Add(120 * time.Second)
	if r := w.Rate(at, time.Minute); r < 9.9 || r > 10.1 {
		t.Errorf("rate over the window = %v, want 10", r)
	}
	if r := w.Rate(at, time.Hour); r < 9.9 || r > 10.1 {
		t.Errorf("a span longer than the window is clamped to it: %v", r)
	}
	// A clock that steps back counts in the newest slot, and nothing is lost.
	w.Add(at.Add(-time.Hour), 50)
	// At a slot boundary the window spans 11 whole slots (55 s): 550 events,
	// plus the 50 counted in the newest slot.
	if r := w.Rate(at, time.Minute); r < 10.90 || r > 10.92 {
		t.Errorf("after a clock step back: %v, want 600 / 55 s", r)
	}
	// A silence longer than the window empties it.
	if r := w.Rate(at.Add(2*time.Minute), time.Minute); r != 0 {
		t.Errorf("after two silent minutes: %v, want 0", r)
	}
	// A young window averages over the time since it started.
	y := NewRateWindow(start, time.Minute, 12)
	y.Add(start.Add(2*time.Second), 30)
	if r := y.Rate(start.Add(3*time.Second), time.Minute); r < 9.9 || r > 10.1 {
		t.Errorf("young window = %v, want 30 over 3 s", r)
	}
	var zero RateWindow
	if zero.Rate(at, time.Minute) != 0 {
		t.Error("the zero window must report 0")
	}
}
