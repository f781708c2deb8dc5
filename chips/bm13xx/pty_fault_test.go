package bm13xx_test

import (
	"testing"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/mining"
)

// TestFaultsAgainstEmulator injects faults on the wire and in the chips,
// over a real pseudo-terminal: garbage and a corrupt frame are counted and
// skipped without losing sync, a chip that stops answering is flagged while
// the others keep mining, and corrupted nonces count as that chip's
// hardware errors.
func TestFaultsAgainstEmulator(t *testing.T) {
	r := startPTYRig(t, bm13xx.BM1366, 3, mining.NewDispatcher(nil, mining.UnitsRollVersion()))
	r.waitNonces(t, 10, "nonces from every chip", func() bool { return len(r.perUnit) == 3 })

	// No preamble in the noise: with one, the reader may (1 time in ~128)
	// accept noise plus the next frame's head as a frame, since CRC5 and the
	// flag bits pass by chance, and the corrupt frame would then go
	// uncounted. False preambles are covered, deterministically, by the
	// splitter tests.
	garbage := []byte{0x13, 0x37, 0xaa, 0x00, 0x55, 0x01, 0xaa, 0xff, 0x55}
	r.emu.InjectNoise(garbage)
	r.emu.CorruptNextFrame()
	r.waitNonces(t, 5, "mining to go on after noise", func() bool {
		now := r.chain.Status()
		return now.CRCErrors >= 1 && now.SkippedBytes >= uint64(len(garbage))
	})
	if st := r.chain.Status(); st.State != bm13xx.StateMining || st.Reinits != 0 {
		t.Fatalf("after noise: %+v, want still mining with no re-initialisation", st)
	}

	// Chip 1 stops: flagged within three polls, the others keep mining.
	r.emu.StopChip(1)
	r.waitNonces(t, 0, "chip 1 flagged", func() bool { return !r.chain.Status().Chips[1].Responding })
	before := r.chain.Status().Chips
	r.waitNonces(t, 10, "chips 0 and 2 to keep mining", func() bool {
		now := r.chain.Status().Chips
		return now[0].Nonces > before[0].Nonces && now[2].Nonces > before[2].Nonces
	})
	st := r.chain.Status()
	if !st.Chips[0].Responding || !st.Chips[2].Responding || st.Chips[1].Nonces != before[1].Nonces {
		t.Errorf("after stopping chip 1: %+v", st.Chips)
	}
	r.emu.ResumeChip(1)
	r.waitNonces(t, 0, "chip 1 back", func() bool { return r.chain.Status().Chips[1].Responding })

	// Every nonce corrupted: the host's verdict counts them per chip.
	r.emu.SetHWErrorRate(1)
	hwBefore := r.chain.Status().HWErrors
	r.waitNonces(t, 5, "hardware errors counted", func() bool { return r.chain.Status().HWErrors >= hwBefore+5 })
	st = r.chain.Status()
	var perChip uint64
	for _, c := range st.Chips {
		perChip += c.HWErrors
	}
	if perChip != st.HWErrors {
		t.Errorf("per-chip HW errors sum to %d, chain counts %d", perChip, st.HWErrors)
	}
}
