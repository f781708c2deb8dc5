package bm13xx_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/mining"
)

// TestPerChipClockAndThrottle: over a real pty, one chip is walked to its
// own clock with writes addressed to it alone, the throttle scales every
// chip, and lifting it restores the targets; the driver reports each chip's
// clock as the emulator runs it.
func TestPerChipClockAndThrottle(t *testing.T) {
	r := startPTYRig(t, bm13xx.BM1366, 3, mining.NewDispatcher(nil, mining.UnitsRollVersion()))
	r.waitNonces(t, 5, "mining", func() bool { return len(r.perUnit) == 3 })

	const fast = 100.0
	if err := r.chain.SetChipFrequency(1, fast); err != nil {
		t.Fatal(err)
	}
	waitClocks(t, r, []float64{ptyMHz, fast, ptyMHz})

	if err := r.chain.SetThrottle(0.8); err != nil {
		t.Fatal(err)
	}
	waitClocks(t, r, []float64{ptyMHz * 0.8, fast * 0.8, ptyMHz * 0.8})
	if err := r.chain.SetThrottle(1); err != nil {
		t.Fatal(err)
	}
	waitClocks(t, r, []float64{ptyMHz, fast, ptyMHz})

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"chip past the chain", r.chain.SetChipFrequency(3, ptyMHz)},
		{"clock the PLL cannot make", r.chain.SetChipFrequency(0, 1e6)},
		{"throttle above 1", r.chain.SetThrottle(1.5)},
		{"throttle of 0", r.chain.SetThrottle(0)},
	} {
		if !errors.Is(tc.err, bm13xx.ErrRange) {
			t.Errorf("%s: %v, want ErrRange", tc.name, tc.err)
		}
	}
	if st := r.chain.Status(); st.State != bm13xx.StateMining || st.Reinits != 0 {
		t.Errorf("status after clock changes: %+v", st)
	}
}

// waitClocks waits until the emulated chips and the driver's status both
// show the wanted clocks (within a PLL step).
func waitClocks(t *testing.T, r *ptyRig, want []float64) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1.5 }
	deadline := time.Now().Add(10 * time.Second)
	for {
		emu, st := r.emu.Chips(), r.chain.Status()
		ok := len(emu) == len(want) && len(st.Chips) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = near(emu[i].FrequencyMHz, want[i]) && near(st.Chips[i].FrequencyMHz, want[i])
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			got := make([][2]float64, 0, len(want))
			for i := range min(len(emu), len(st.Chips)) {
				got = append(got, [2]float64{emu[i].FrequencyMHz, st.Chips[i].FrequencyMHz})
			}
			t.Fatalf("clocks (emulator, driver) %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond) // bounded poll across a pty and two goroutines
	}
}
