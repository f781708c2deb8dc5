package main

import "fmt"

// The arm64 kernels use the SHA2 extension: SHA256H and SHA256H2 run
// four rounds on the ABCD and EFGH halves of the state, SHA256SU0 and
// SHA256SU1 extend the message schedule by four words. n streams (nonces
// in flight) interleave group by group, so each instruction's latency
// hides behind the other streams' work.
//
// The inner block starts after its group 0 (rounds 0..3), a constant
// state plus W3 in a and e. The outer block's last group only needs
// SHA256H2: the new H lane is e after round 60, the digest's last word.

// Offsets in the arm64 constant table (register R3).
const (
	acK       = 0   // K0..K63
	acInnerWK = 256 // inner groups 1..3, W+K
	acPad     = 304 // {0x80000000, 0, 0, 0}: inner group 1, outer group 2
	acZero    = 320 // inner group 2
	acInner3  = 336 // inner group 3: {0, 0, 0, 640}
	acOuter3  = 352 // outer group 3: {0, 0, 0, 256}
	acOuterWK = 368 // outer groups 2..3, W+K
	acIV      = 400 // ABCD, EFGH
)

// Offsets in sha2Params (register R0).
const (
	apSt3 = 0  // inner state after round 3 with W3 = 0, ABCD then EFGH
	apMid = 32 // midstate
	apM0  = 64 // W0, W1, W2, 0
)

func genSHA2ARM(a *asm) {
	var tbl []uint32
	tbl = append(tbl, k[:]...)
	for i := 4; i < 16; i++ {
		tbl = append(tbl, innerW(i)+k[i])
	}
	tbl = append(tbl, padWord, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, innerBits, 0, 0, 0, outerBits)
	for i := 8; i < 16; i++ {
		tbl = append(tbl, outerW(i)+k[i])
	}
	tbl = append(tbl, iv[:]...)
	a.data("sha2Consts", tbl)
	for _, n := range []int{1, 2} {
		genSHA2Kernel(a, n)
	}
}

// armStream names the registers of one stream.
type armStream struct {
	abcd, efgh, cp, wk string
	m                  [4]string
}

func vreg(i int) string { return fmt.Sprintf("V%d", i) }

// armBlock emits one block (inner or outer) for all streams.
type armBlock struct {
	a       *asm
	st      []armStream
	consts  map[int]int // constant message groups: table offsets
	wkConst map[int]int // their W+K
}

// operand returns a register holding message group h of stream s,
// loading a constant group into tmp.
func (b *armBlock) operand(s armStream, h int, tmp string) string {
	if off, ok := b.consts[h]; ok {
		b.a.op("FMOVQ %d(R3), F%s", off, tmp[1:])
		return tmp
	}
	return s.m[h%4]
}

func (b *armBlock) schedule(g int) {
	for _, s := range b.st {
		dst := s.m[g%4]
		if off, ok := b.consts[g-4]; ok {
			b.a.op("FMOVQ %d(R3), F%s", off, dst[1:])
		}
		n := b.operand(s, g-3, "V25")
		b.a.op("SHA256SU0 %s.S4, %s.S4", n, dst)
		n = b.operand(s, g-2, "V25")
		m := b.operand(s, g-1, "V26")
		b.a.op("SHA256SU1 %s.S4, %s.S4, %s.S4", m, n, dst)
	}
}

// rounds runs group g; with onlyH2 just the EFGH half.
func (b *armBlock) rounds(g int, onlyH2 bool) {
	const vk = "V24"
	if off, ok := b.wkConst[g]; ok {
		b.a.op("FMOVQ %d(R3), F24", off)
	} else {
		b.a.op("FMOVQ %d(R3), F24", acK+16*g)
	}
	for _, s := range b.st {
		wk := vk
		if _, ok := b.wkConst[g]; !ok {
			wk = s.wk
			b.a.op("VADD %s.S4, %s.S4, %s.S4", vk, s.m[g%4], wk)
		}
		if onlyH2 {
			b.a.op("SHA256H2 %s.S4, %s, %s", wk, s.abcd, s.efgh)
			continue
		}
		b.a.op("VMOV %s.B16, %s.B16", s.abcd, s.cp)
		b.a.op("SHA256H %s.S4, %s, %s", wk, s.efgh, s.abcd)
		b.a.op("SHA256H2 %s.S4, %s, %s", wk, s.cp, s.efgh)
	}
}

// genSHA2Kernel writes sha2Xn.
func genSHA2Kernel(a *asm, n int) {
	name := fmt.Sprintf("sha2X%d", n)
	a.raw(fmt.Sprintf("\n// func %s(p *sha2Params, start, count, limit uint32, hits *uint32) int\n", name))
	a.raw(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-40\n", name))
	a.op("MOVD p+0(FP), R0")
	a.op("MOVWU start+8(FP), R1")
	a.op("MOVWU count+12(FP), R2")
	a.op("MOVWU limit+16(FP), R4")
	a.op("MOVD hits+24(FP), R5")
	a.op("MOVD $0, R11")
	a.op("MOVD $sha2Consts<>(SB), R3")
	a.op("CBZW R2, %s_done", name)
	a.label(name + "_loop")
	var st []armStream
	for s := 0; s < n; s++ {
		b := 8 * s
		st = append(st, armStream{abcd: vreg(b), efgh: vreg(b + 1), cp: vreg(b + 2), wk: vreg(b + 7),
			m: [4]string{vreg(b + 3), vreg(b + 4), vreg(b + 5), vreg(b + 6)}})
	}
	a.comment("Inner block: W3 joins a and e of the state after round 3 and lane 3 of group 0.")
	for i, s := range st {
		a.op("ADDW $%d, R1, R6", i)
		a.op("REVW R6, R6")
		a.op("FMOVS R6, F25")
		a.op("FMOVQ %d(R0), F%s", apSt3, s.abcd[1:])
		a.op("FMOVQ %d(R0), F%s", apSt3+16, s.efgh[1:])
		a.op("VADD V25.S4, %s.S4, %s.S4", s.abcd, s.abcd)
		a.op("VADD V25.S4, %s.S4, %s.S4", s.efgh, s.efgh)
		a.op("FMOVQ %d(R0), F%s", apM0, s.m[0][1:])
		a.op("VMOV R6, %s.S[3]", s.m[0])
	}
	in := &armBlock{a: a, st: st,
		consts:  map[int]int{1: acPad, 2: acZero, 3: acInner3},
		wkConst: map[int]int{1: acInnerWK, 2: acInnerWK + 16, 3: acInnerWK + 32}}
	for g := 1; g < 16; g++ {
		if g >= 4 {
			in.schedule(g)
		}
		in.rounds(g, false)
	}
	a.comment("Outer block: the inner digest is its groups 0 and 1.")
	a.op("FMOVQ %d(R0), F25", apMid)
	a.op("FMOVQ %d(R0), F26", apMid+16)
	for _, s := range st {
		a.op("VADD V25.S4, %s.S4, %s.S4", s.abcd, s.m[0])
		a.op("VADD V26.S4, %s.S4, %s.S4", s.efgh, s.m[1])
		a.op("FMOVQ %d(R3), F%s", acIV, s.abcd[1:])
		a.op("FMOVQ %d(R3), F%s", acIV+16, s.efgh[1:])
	}
	out := &armBlock{a: a, st: st,
		consts:  map[int]int{2: acPad, 3: acOuter3},
		wkConst: map[int]int{2: acOuterWK, 3: acOuterWK + 16}}
	for g := 0; g < 16; g++ {
		if g >= 4 {
			out.schedule(g)
		}
		out.rounds(g, g == 15)
	}
	a.comment("Lane H of EFGH is e after round 60; plus H7 and byte-swapped, the top word.")
	for i, s := range st {
		a.op("VMOV %s.S[3], R6", s.efgh)
		a.op("ADDW $0x%08x, R6, R6", iv[7])
		a.op("REVW R6, R6")
		a.op("ADDW $%d, R1, R7", i)
		a.op("MOVW R7, (R5)(R11<<2)")
		a.op("CMPW R4, R6")
		a.op("CINC LS, R11, R11")
	}
	a.op("ADDW $%d, R1, R1", n)
	a.op("SUBW $%d, R2, R2", n)
	a.op("CBNZW R2, %s_loop", name)
	a.label(name + "_done")
	a.op("MOVD R11, ret+32(FP)")
	a.op("RET")
}
