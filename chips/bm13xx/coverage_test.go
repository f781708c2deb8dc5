package bm13xx

import (
	"fmt"
	"slices"
	"testing"
)

// span is an inclusive range of nonce words owned by one (chip, core).
type span struct {
	lo, hi     uint32
	chip, core int
}

// TestSearchSpaceCoverage checks the search-space model on range
// arithmetic: for every model and chain length, the (chip, core) nonce
// ranges are disjoint and together cover every W3 whose core field is below
// Cores, every nonce decodes back to the chip and core that own it, and the
// version fields split among the small cores without overlap or gap.
func TestSearchSpaceCoverage(t *testing.T) {
	for _, m := range Models() {
		for _, n := range []int{1, 2, 6, 65, 77, 110, 126, 128} {
			t.Run(fmt.Sprintf("%s/%d chips", m.Name, n), func(t *testing.T) {
				checkNonceCoverage(t, m, n)
			})
		}
		t.Run(m.Name+"/versions", func(t *testing.T) { checkVersionCoverage(t, m) })
	}
}

func checkNonceCoverage(t *testing.T, m Model, chips int) {
	addrs := Addresses(chips)
	var spans []span
	for i, a := range addrs {
		next := 256
		if i+1 < len(addrs) {
			next = int(addrs[i+1])
		}
		for core := range m.Cores {
			lo, hi := m.NonceRange(int(a), next, core)
			if lo > hi {
				t.Fatalf("chip %d core %d: empty range %08x..%08x", i, core, lo, hi)
			}
			spans = append(spans, span{lo, hi, i, core})
		}
	}
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var next uint64 // first W3 not yet covered
	for _, s := range spans {
		if uint64(s.lo) != next {
			t.Fatalf("chip %d core %d starts at %08x, want %08x (gap or overlap)", s.chip, s.core, s.lo, next)
		}
		next = uint64(s.hi) + 1
		for _, w := range []uint32{s.lo, s.hi, s.lo + (s.hi-s.lo)/2} {
			r := Response{Nonce: true, Data: [4]byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w)}, Long: m.HardwareRolling}
			nc := m.DecodeNonce(r)
			if nc.Core != s.core || ChipIndex(nc.ChipField, chips) != s.chip {
				t.Fatalf("W3 %08x decodes to chip %d core %d, owned by chip %d core %d",
					w, ChipIndex(nc.ChipField, chips), nc.Core, s.chip, s.core)
			}
		}
	}
	if want := uint64(m.Cores) << (m.CounterBits + 8); next != want {
		t.Fatalf("ranges end at %08x, want %08x (every core field below %d)", next, want, m.Cores)
	}
	if want := uint64(1) << 32; uint64(m.Cores)<<(m.CounterBits+8) > want {
		t.Fatalf("core field does not fit the nonce")
	}
}

// checkVersionCoverage: on BM1366+ every 16-bit version field belongs to
// exactly one small core, each getting an equal share; on BM1397 each
// midstate index belongs to one small core.
func checkVersionCoverage(t *testing.T, m Model) {
	fields := 1 << 16
	if !m.HardwareRolling {
		fields = MaxMidstates
	}
	count := make([]int, m.SmallCores)
	for v := range fields {
		s := m.SmallCoreOf(uint16(v))
		if s < 0 || s >= m.SmallCores {
			t.Fatalf("version field %04x: small core %d out of range", v, s)
		}
		count[s]++
	}
	for s, c := range count {
		if c != fields/m.SmallCores {
			t.Errorf("small core %d owns %d version fields, want %d", s, c, fields/m.SmallCores)
		}
	}
}
