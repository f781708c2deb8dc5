package stratumproxy

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoffGrowthAndCap(t *testing.T) {
	top := func(n int64) int64 { return n } // always the ceiling
	b := Backoff{Base: time.Second, Max: 8 * time.Second, Rand: top}
	var got []time.Duration
	for range 6 {
		got = append(got, b.Next())
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	if b.Attempts() != 6 {
		t.Errorf("attempts %d, want 6", b.Attempts())
	}
	b.Reset()
	if d := b.Next(); d != time.Second {
		t.Errorf("after Reset: %v, want the base", d)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	var asked []int64
	half := func(n int64) int64 { asked = append(asked, n); return n / 2 }
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second, Rand: half}
	want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond}
	for i, w := range want {
		if d := b.Next(); d != w {
			t.Errorf("attempt %d: %v, want %v", i, d, w)
		}
	}
	if asked[4] != int64(time.Second) {
		t.Errorf("rand range at the cap %v, want %v", time.Duration(asked[4]), time.Second)
	}
	zero := Backoff{Base: time.Second, Max: time.Minute, Rand: func(int64) int64 { return 0 }}
	if d := zero.Next(); d != 0 {
		t.Errorf("rand 0: %v, want 0 (full jitter)", d)
	}
	wild := Backoff{Base: time.Second, Max: time.Minute, Rand: func(int64) int64 { return math.MaxInt64 }}
	if d := wild.Next(); d != time.Second {
		t.Errorf("out-of-range rand: %v, want clamped to the ceiling", d)
	}
}

func TestBackoffRandomBounds(t *testing.T) {
	b := Backoff{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	var sum time.Duration
	for i := range 2000 {
		ceil := b.Ceiling()
		d := b.Next()
		if d < 0 || d > ceil || ceil > 80*time.Millisecond {
			t.Fatalf("attempt %d: %v outside [0, %v]", i, d, ceil)
		}
		if i >= 10 {
			sum += d
		}
	}
	// At the cap the mean is Max/2; 1990 samples keep it well within ±20 %.
	if mean := sum / 1990; mean < 32*time.Millisecond || mean > 48*time.Millisecond {
		t.Errorf("mean delay at the cap %v, want about 40ms", mean)
	}
}

func TestBackoffDefaultsAndOverflow(t *testing.T) {
	var zero Backoff
	if c := zero.Ceiling(); c != DefaultBackoffBase {
		t.Errorf("zero value ceiling %v, want %v", c, DefaultBackoffBase)
	}
	b := Backoff{Base: time.Second, Max: time.Duration(math.MaxInt64), Rand: func(n int64) int64 { return n }}
	for i := range 200 {
		if d := b.Next(); d < 0 {
			t.Fatalf("attempt %d overflowed: %v", i, d)
		}
	}
}
