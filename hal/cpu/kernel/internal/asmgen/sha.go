package main

import (
	"math/bits"

	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/shaconst"
)

// The SHA-256 definitions the generator folds into constants.

var (
	iv = shaconst.IV
	k  = shaconst.K
)

const (
	padWord   = shaconst.PadWord
	innerBits = shaconst.InnerBits
	outerBits = shaconst.OuterBits
)

// innerW and outerW give the message words that are the same for every
// header: inner W4..W15 and outer W8..W15 (others are zero here).
func innerW(i int) uint32 {
	switch i {
	case 4:
		return padWord
	case 15:
		return innerBits
	}
	return 0
}

func outerW(i int) uint32 {
	switch i {
	case 8:
		return padWord
	case 15:
		return outerBits
	}
	return 0
}

func round(s *[8]uint32, i int, w uint32) {
	a, b, c, d, e, f, g, h := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
	t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
		((e & f) ^ (^e & g)) + k[i] + w
	t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
		((a & b) ^ (a & c) ^ (b & c))
	*s = [8]uint32{t1 + t2, a, b, c, d + t1, e, f, g}
}
