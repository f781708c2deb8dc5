package kernel

import (
	"math/bits"

	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/sha256core"
)

// scanGeneric is the portable implementation: scalar Go with the same
// precomputation and early exit as the vector kernels.
func scanGeneric(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 {
	j := newJob(mid, tail)
	var w [64]uint32
	w[0], w[1], w[2] = j.w0, j.w1, j.w2
	w[4], w[15] = padWord, innerBits
	w[16], w[17] = j.w16, j.w17
	for i := uint32(0); i < count; i++ {
		n := start + i
		if topWord(hashNonce(&j, &w, n)) <= limit {
			out = append(out, n)
		}
	}
	return out
}

// hashNonce returns the outer hash's e after round 60 for nonce n. w holds
// the inner block's nonce-independent words (W0..W2, W4..W17).
func hashNonce(j *job, w *[64]uint32, n uint32) uint32 {
	w3 := bits.ReverseBytes32(n)
	w[3] = w3
	for i := 18; i < 64; i++ {
		w[i] = sha256core.Sigma1(w[i-2]) + w[i-7] + sha256core.Sigma0(w[i-15]) + w[i-16]
	}
	s := j.st3
	a, b, c, d, e, f, g, h := rounds60(w, 4, s[0]+w3, s[1], s[2], s[3], s[4]+w3, s[5], s[6], s[7])

	var o [64]uint32
	o[0], o[1], o[2], o[3] = a+j.mid[0], b+j.mid[1], c+j.mid[2], d+j.mid[3]
	o[4], o[5], o[6], o[7] = e+j.mid[4], f+j.mid[5], g+j.mid[6], h+j.mid[7]
	o[8], o[15] = padWord, outerBits
	for i := 16; i < 61; i++ {
		o[i] = sha256core.Sigma1(o[i-2]) + o[i-7] + sha256core.Sigma0(o[i-15]) + o[i-16]
	}
	s = outer0
	_, _, _, _, e, _, _, _ = rounds60(&o, 1, s[0]+o[0], s[1], s[2], s[3], s[4]+o[0], s[5], s[6], s[7])
	return e
}

func bigSigma0(x uint32) uint32 {
	return bits.RotateLeft32(x, -2) ^ bits.RotateLeft32(x, -13) ^ bits.RotateLeft32(x, -22)
}

func bigSigma1(x uint32) uint32 {
	return bits.RotateLeft32(x, -6) ^ bits.RotateLeft32(x, -11) ^ bits.RotateLeft32(x, -25)
}

// rounds60 runs rounds first..first+59 on state a..h with message w. Each
// round writes its new a into the variable that held h and adds T1 to the
// one that held d, so the names rotate instead of the values.
func rounds60(w *[64]uint32, first int, a, b, c, d, e, f, g, h uint32) (uint32, uint32, uint32, uint32, uint32, uint32, uint32, uint32) {
	i := first
	h += bigSigma1(e) + (g ^ e&(f^g)) + k[i] + w[i]
	d += h
	h += bigSigma0(a) + (a&b | c&(a|b))
	g += bigSigma1(d) + (f ^ d&(e^f)) + k[i+1] + w[i+1]
	c += g
	g += bigSigma0(h) + (h&a | b&(h|a))
	f += bigSigma1(c) + (e ^ c&(d^e)) + k[i+2] + w[i+2]
	b += f
	f += bigSigma0(g) + (g&h | a&(g|h))
	e += bigSigma1(b) + (d ^ b&(c^d)) + k[i+3] + w[i+3]
	a += e
	e += bigSigma0(f) + (f&g | h&(f|g))
	// Four rounds moved every role four places: rename back.
	a, b, c, d, e, f, g, h = e, f, g, h, a, b, c, d
	for i += 4; i < first+60; i += 8 {
		h += bigSigma1(e) + (g ^ e&(f^g)) + k[i&63] + w[i&63]
		d += h
		h += bigSigma0(a) + (a&b | c&(a|b))
		g += bigSigma1(d) + (f ^ d&(e^f)) + k[(i+1)&63] + w[(i+1)&63]
		c += g
		g += bigSigma0(h) + (h&a | b&(h|a))
		f += bigSigma1(c) + (e ^ c&(d^e)) + k[(i+2)&63] + w[(i+2)&63]
		b += f
		f += bigSigma0(g) + (g&h | a&(g|h))
		e += bigSigma1(b) + (d ^ b&(c^d)) + k[(i+3)&63] + w[(i+3)&63]
		a += e
		e += bigSigma0(f) + (f&g | h&(f|g))
		d += bigSigma1(a) + (c ^ a&(b^c)) + k[(i+4)&63] + w[(i+4)&63]
		h += d
		d += bigSigma0(e) + (e&f | g&(e|f))
		c += bigSigma1(h) + (b ^ h&(a^b)) + k[(i+5)&63] + w[(i+5)&63]
		g += c
		c += bigSigma0(d) + (d&e | f&(d|e))
		b += bigSigma1(g) + (a ^ g&(h^a)) + k[(i+6)&63] + w[(i+6)&63]
		f += b
		b += bigSigma0(c) + (c&d | e&(c|d))
		a += bigSigma1(f) + (h ^ f&(g^h)) + k[(i+7)&63] + w[(i+7)&63]
		e += a
		a += bigSigma0(b) + (b&c | d&(b|c))
	}
	return a, b, c, d, e, f, g, h
}
