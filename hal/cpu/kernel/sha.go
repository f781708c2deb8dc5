package kernel

import (
	"math/bits"

	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/sha256core"
)

// The SHA-256 definitions and the per-header precomputation every
// implementation shares.

var (
	iv = sha256core.IV
	k  = sha256core.K
)

const (
	padWord   = sha256core.PadWord
	innerBits = sha256core.InnerBits
	outerBits = sha256core.OuterBits
)

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
	sha256core.Round(&j.st3, 0, j.w0)
	sha256core.Round(&j.st3, 1, j.w1)
	sha256core.Round(&j.st3, 2, j.w2)
	sha256core.Round(&j.st3, 3, 0)
	// W16 = σ1(W14) + W9 + σ0(W1) + W0, W17 = σ1(W15) + W10 + σ0(W2) + W1,
	// with W9 = W10 = W14 = 0 and W15 = 640.
	j.w16 = sha256core.Sigma0(j.w1) + j.w0
	j.w17 = sha256core.Sigma1(innerBits) + sha256core.Sigma0(j.w2) + j.w1
	return j
}

// outer0 is the outer hash's state after round 0 with W0 = 0; like st3,
// the real state adds W0 to a and e.
var outer0 = func() [8]uint32 {
	s := iv
	sha256core.Round(&s, 0, 0)
	return s
}()

// topWord turns the outer hash's e after round 60 into the hash's top
// word: that e becomes h after round 63, and the digest is big-endian.
func topWord(e60 uint32) uint32 {
	return bits.ReverseBytes32(e60 + iv[7])
}
