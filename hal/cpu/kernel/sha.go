package kernel

import (
	"math/bits"

	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/shaconst"
)

// The SHA-256 definitions and the per-header precomputation every
// implementation shares.

var (
	iv = shaconst.IV
	k  = shaconst.K
)

const (
	padWord   = shaconst.PadWord
	innerBits = shaconst.InnerBits
	outerBits = shaconst.OuterBits
)

func sigma0(x uint32) uint32 {
	return bits.RotateLeft32(x, -7) ^ bits.RotateLeft32(x, -18) ^ x>>3
}

func sigma1(x uint32) uint32 {
	return bits.RotateLeft32(x, -17) ^ bits.RotateLeft32(x, -19) ^ x>>10
}

// round runs SHA-256 round i with message word w on state s.
func round(s *[8]uint32, i int, w uint32) {
	a, b, c, d, e, f, g, h := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
	t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
		((e & f) ^ (^e & g)) + k[i] + w
	t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
		((a & b) ^ (a & c) ^ (b & c))
	*s = [8]uint32{t1 + t2, a, b, c, d + t1, e, f, g}
}

// job holds what every nonce of one header shares.
type job struct {
	// mid is the state after the header's first block.
	mid [8]uint32
	// st3 is the inner state after round 3 with W3 = 0; the nonce's W3
	// enters round 3 only as an addend to T1, so adding it to a and e
	// gives the real state.
	st3 [8]uint32
	// The inner block's message words W0..W2, and the two schedule
	// words that do not depend on the nonce, W16 and W17.
	w0, w1, w2, w16, w17 uint32
}

func newJob(mid *[8]uint32, tail *[3]uint32) job {
	j := job{mid: *mid, w0: tail[0], w1: tail[1], w2: tail[2]}
	j.st3 = *mid
	round(&j.st3, 0, j.w0)
	round(&j.st3, 1, j.w1)
	round(&j.st3, 2, j.w2)
	round(&j.st3, 3, 0)
	// W16 = σ1(W14) + W9 + σ0(W1) + W0, W17 = σ1(W15) + W10 + σ0(W2) + W1,
	// with W9 = W10 = W14 = 0 and W15 = 640.
	j.w16 = sigma0(j.w1) + j.w0
	j.w17 = sigma1(innerBits) + sigma0(j.w2) + j.w1
	return j
}

// outer0 is the outer hash's state after round 0 with W0 = 0; like st3,
// the real state adds W0 to a and e.
var outer0 = func() [8]uint32 {
	s := iv
	round(&s, 0, 0)
	return s
}()

// topWord turns the outer hash's e after round 60 into the hash's top
// word: that e becomes h after round 63, and the digest is big-endian.
func topWord(e60 uint32) uint32 {
	return bits.ReverseBytes32(e60 + iv[7])
}
