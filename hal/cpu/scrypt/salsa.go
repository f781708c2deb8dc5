package scrypt

import "math/bits"

// salsaXOR sets b to Salsa20/8(b ⊕ x): the input XORed in, eight
// rounds (four double rounds), and the input added back.
func salsaXOR(b, x *[16]uint32) {
	w0 := b[0] ^ x[0]
	w1 := b[1] ^ x[1]
	w2 := b[2] ^ x[2]
	w3 := b[3] ^ x[3]
	w4 := b[4] ^ x[4]
	w5 := b[5] ^ x[5]
	w6 := b[6] ^ x[6]
	w7 := b[7] ^ x[7]
	w8 := b[8] ^ x[8]
	w9 := b[9] ^ x[9]
	w10 := b[10] ^ x[10]
	w11 := b[11] ^ x[11]
	w12 := b[12] ^ x[12]
	w13 := b[13] ^ x[13]
	w14 := b[14] ^ x[14]
	w15 := b[15] ^ x[15]
	x0, x1, x2, x3, x4, x5, x6, x7 := w0, w1, w2, w3, w4, w5, w6, w7
	x8, x9, x10, x11, x12, x13, x14, x15 := w8, w9, w10, w11, w12, w13, w14, w15
	for range 4 {
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)
		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)
		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)
		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)
		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)
		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)
		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)
		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	b[0] = x0 + w0
	b[1] = x1 + w1
	b[2] = x2 + w2
	b[3] = x3 + w3
	b[4] = x4 + w4
	b[5] = x5 + w5
	b[6] = x6 + w6
	b[7] = x7 + w7
	b[8] = x8 + w8
	b[9] = x9 + w9
	b[10] = x10 + w10
	b[11] = x11 + w11
	b[12] = x12 + w12
	b[13] = x13 + w13
	b[14] = x14 + w14
	b[15] = x15 + w15
}

// salsaXOR2 sets b to Salsa20/8(b ⊕ x ⊕ y), folding ROMix's table
// lookup into the first half of BlockMix.
func salsaXOR2(b, x, y *[16]uint32) {
	w0 := b[0] ^ x[0] ^ y[0]
	w1 := b[1] ^ x[1] ^ y[1]
	w2 := b[2] ^ x[2] ^ y[2]
	w3 := b[3] ^ x[3] ^ y[3]
	w4 := b[4] ^ x[4] ^ y[4]
	w5 := b[5] ^ x[5] ^ y[5]
	w6 := b[6] ^ x[6] ^ y[6]
	w7 := b[7] ^ x[7] ^ y[7]
	w8 := b[8] ^ x[8] ^ y[8]
	w9 := b[9] ^ x[9] ^ y[9]
	w10 := b[10] ^ x[10] ^ y[10]
	w11 := b[11] ^ x[11] ^ y[11]
	w12 := b[12] ^ x[12] ^ y[12]
	w13 := b[13] ^ x[13] ^ y[13]
	w14 := b[14] ^ x[14] ^ y[14]
	w15 := b[15] ^ x[15] ^ y[15]
	x0, x1, x2, x3, x4, x5, x6, x7 := w0, w1, w2, w3, w4, w5, w6, w7
	x8, x9, x10, x11, x12, x13, x14, x15 := w8, w9, w10, w11, w12, w13, w14, w15
	for range 4 {
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)
		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)
		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)
		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)
		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)
		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)
		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)
		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	b[0] = x0 + w0
	b[1] = x1 + w1
	b[2] = x2 + w2
	b[3] = x3 + w3
	b[4] = x4 + w4
	b[5] = x5 + w5
	b[6] = x6 + w6
	b[7] = x7 + w7
	b[8] = x8 + w8
	b[9] = x9 + w9
	b[10] = x10 + w10
	b[11] = x11 + w11
	b[12] = x12 + w12
	b[13] = x13 + w13
	b[14] = x14 + w14
	b[15] = x15 + w15
}
