package kernel

import "math/bits"

// The SHA-256 definitions and the per-header precomputation every
// implementation shares.

// iv is the SHA-256 initial state.
var iv = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

// k holds the SHA-256 round constants.
var k = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// Message words of the padding that never change: the inner second block
// carries 80 bytes (640 bits) in all, the outer block a 32-byte digest.
const (
	padWord   = 0x80000000
	innerBits = 640
	outerBits = 256
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
