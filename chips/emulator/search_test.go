package emulator

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/mining"
)

// TestSliceMatchesNonceRange checks the walk against the codec's search
// model: at any counter value, the run values a chip keeps are exactly the
// nonces whose core field is a real core and whose chip field lies in
// [addr, next), each inside NonceRange for its core.
func TestSliceMatchesNonceRange(t *testing.T) {
	cases := []struct{ addr, next int }{
		{0, 256}, {0, 0x80}, {0x80, 256}, {0x7e, 0xa8}, {0x2a, 0x54}, {0xfe, 256}, {0x10, 0x11},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range bm13xx.Models() {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%02x-%03x", m.Name, tc.addr, tc.next), func(t *testing.T) {
				s := newSlice(m, tc.addr, tc.next)
				counter := uint32(rng.IntN(1 << m.CounterBits))
				kept := 0
				for ri := range s.rows {
					r, x := s.at(uint64(ri)<<s.counterBits | uint64(counter))
					start := runStart(r, x)
					for k := uint32(0); k < r.tHi-r.tLo+1; k++ {
						v := start + k
						nb := nonceBytes(v)
						n := m.DecodeNonce(bm13xx.Response{Nonce: true, Data: nb})
						inSlice := n.Core < m.Cores && n.ChipField >= tc.addr && n.ChipField < tc.next
						if got := s.owns(r, v); got != inSlice {
							t.Fatalf("value %08x (core %d, field %02x): owns %v, want %v", v, n.Core, n.ChipField, got, inSlice)
						}
						if !inSlice {
							continue
						}
						kept++
						lo, hi := m.NonceRange(tc.addr, tc.next, n.Core)
						if w3 := n.W3(); w3 < lo || w3 > hi || w3&(1<<m.CounterBits-1) != counter {
							t.Fatalf("W3 %08x outside [%08x, %08x] or counter not %x", w3, lo, hi, counter)
						}
					}
				}
				if want := m.Cores * (tc.next - tc.addr); kept != want {
					t.Errorf("kept %d nonces per counter value, want %d", kept, want)
				}
				if got, want := s.perCore(), uint64(tc.next-tc.addr)<<m.CounterBits; got != want {
					t.Errorf("perCore %d, want %d", got, want)
				}
			})
		}
	}
}

// TestSha256dFromMid checks the restored-midstate hash against a full
// SHA-256d of the header.
func TestSha256dFromMid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		var h [80]byte
		for i := range h {
			h[i] = byte(rng.Uint32())
		}
		mid := mining.Midstate(&h)
		var last [16]byte
		copy(last[:], h[64:])
		got, ok := sha256dFromMid(&mid, &last)
		if !ok {
			t.Fatal("sha256 state not accepted")
		}
		if want := mining.Sha256d(h[:]); got != want {
			t.Fatalf("hash %x, want %x", got, want)
		}
	}
}

// TestBatchVersions checks that a BM1366+ batch rolls fields inside the
// mask, one per small core, and that successive batches do not repeat.
func TestBatchVersions(t *testing.T) {
	for _, m := range []bm13xx.Model{bm13xx.BM1366, bm13xx.BM1370} {
		w := &work{base: 0x20000004}
		r := rolling{on: true, field: 0xffff}
		seen := map[uint16]bool{}
		for b := range uint64(4) {
			bt := newBatch(m, w, r, b)
			if len(bt.mids) != m.SmallCores {
				t.Fatalf("%s: batch of %d versions, want %d", m, len(bt.mids), m.SmallCores)
			}
			for i, f := range bt.fields {
				if seen[f] {
					t.Fatalf("%s: field %04x repeated", m, f)
				}
				seen[f] = true
				if bt.subs[i] != m.SmallCoreOf(f) || bt.subs[i] != i {
					t.Fatalf("%s: field %04x on small core %d", m, f, bt.subs[i])
				}
			}
		}
		narrow := rolling{on: true, field: 0x0006} // two mask bits: 4 fields
		if n, c := batchSize(m, w, narrow), batchCount(m, narrow); n != 4 || c != 1 {
			t.Errorf("%s: narrow mask: batch %d × %d, want 4 × 1", m, n, c)
		}
		for i, f := range newBatch(m, w, narrow, 0).fields {
			if f&^0x0006 != 0 || f != uint16(mining.RollVersion(0, 6, uint64(i))) {
				t.Errorf("%s: narrow field %04x outside mask", m, f)
			}
		}
	}
}
