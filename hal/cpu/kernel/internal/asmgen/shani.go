package main

import (
	"fmt"

	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/sha256core"
)

// The SHA-NI kernels interleave n independent nonces ("streams") so that
// SHA256RNDS2, whose latency is about twice its issue interval, always has
// work. A stream keeps its state (ABEF and CDGH, the layout SHA256RNDS2
// wants) and its newest message group in registers; older groups live in
// a four-slot ring in the frame, read by SHA256MSG1, PALIGNR and
// SHA256MSG2 as memory operands, which leaves registers for four streams.
//
// The inner block starts from the state after round 3 (the nonce's W3
// enters it only through a and e). The outer block starts from the state
// after round 0 (the same trick with W0) and runs rounds 1..60 in pairs
// that straddle the message groups, stopping when e after round 60, the
// digest's last word, is known: 30 SHA256RNDS2 per block.

// shaniParams offsets; see shaniParams in shani_amd64.go.
const (
	offInnerABEF = 0
	offInnerCDGH = 16
	offMidABEF   = 32
	offMidCDGH   = 48
	offM0        = 64
	paramsSize   = 80
)

// streamBytes is the frame space of one stream: the ring of four message
// groups, then W+K of each of the sixteen groups.
const streamBytes = 64 + 16*16

// msgSource says which message groups of a block are the same for every
// header (held in read-only data) and which words are always zero.
type msgSource struct {
	mem  map[int]string
	zero map[int]bool
}

func (m msgSource) allZero(first int) bool {
	for i := first; i < first+4; i++ {
		if !m.zero[i] {
			return false
		}
	}
	return true
}

// stream names the registers and frame area of one stream.
type stream struct {
	lane   int    // nonce offset from R8
	a, c   string // ABEF, CDGH
	r      string // newest message group
	ring   int    // frame offset (from BX) of the ring; W+K follows it
	s1, s2 string // scratch shared by all streams
}

func (st stream) wk(g, off int) string { return fmt.Sprintf("%d(BX)", st.ring+64+16*g+off) }

// sched emits one block's message schedule for a stream, tracking which
// group the stream's r register holds.
type sched struct {
	st      stream
	src     msgSource
	lastVar int
}

func (m *sched) slot(g int) string { return fmt.Sprintf("%d(BX)", m.st.ring+16*(g%4)) }

// opnd is where group h can be read from.
func (m *sched) opnd(h int) string {
	if d, ok := m.src.mem[h]; ok {
		return d
	}
	if h == m.lastVar {
		return m.st.r
	}
	return m.slot(h)
}

// group computes message group g (words 4g..4g+3) into r:
// W[i] = σ1(W[i-2]) + W[i-7] + σ0(W[i-15]) + W[i-16], SHA256MSG1 adding
// the σ0 terms, PALIGNR gathering W[i-7] and SHA256MSG2 adding σ1. Terms
// that are zero for every header are skipped.
func (m *sched) group(g int) block {
	var b block
	st := m.st
	base := 4 * g
	needMSG1 := !m.src.allZero(base - 15)
	dstZero := false
	if _, ok := m.src.mem[g-4]; ok && m.src.allZero(base-16) && !needMSG1 {
		dstZero = true
	} else {
		b = append(b, ins("MOVO %s, %s", m.opnd(g-4), st.s1))
	}
	if needMSG1 {
		b = append(b, ins("SHA256MSG1 %s, %s", m.opnd(g-3), st.s1))
	}
	if !m.src.allZero(base - 7) {
		if _, ok := m.src.mem[g-1]; ok {
			panic("asmgen: constant W[i-7] group not folded")
		}
		t := st.s2
		if dstZero {
			t = st.s1
		}
		b = append(b, ins("MOVO %s, %s", m.opnd(g-1), t), ins("PALIGNR $4, %s, %s", m.opnd(g-2), t))
		if !dstZero {
			b = append(b, ins("PADDD %s, %s", t, st.s1))
		}
	} else if dstZero {
		b = append(b, ins("PXOR %s, %s", st.s1, st.s1))
	}
	b = append(b, ins("SHA256MSG2 %s, %s", m.opnd(g-1), st.s1), ins("MOVO %s, %s", st.s1, st.r))
	if g <= 13 {
		b = append(b, ins("MOVO %s, %s", st.s1, m.slot(g)))
	}
	m.lastVar = g
	return b
}

// innerRounds runs the four rounds of inner group g. The second pair of
// W+K words is reloaded from memory rather than shuffled down, sparing the
// vector pipes SHA256RNDS2 competes for.
func (m *sched) innerRounds(g int) block {
	var b block
	st := m.st
	hi := ""
	if _, ok := m.src.mem[g]; ok {
		b = append(b, ins("MOVO shaniInnerWK<>+%d(SB), X0", 16*(g-1)))
		hi = ins("shaniInnerWK<>+%d(SB)", 16*(g-1)+8)
	} else {
		b = append(b,
			ins("MOVO %s, X0", m.opnd(g)),
			ins("PADDD shaniK<>+%d(SB), X0", 16*g),
			ins("MOVO X0, %s", st.wk(0, 0)))
		hi = st.wk(0, 8)
	}
	return append(b,
		ins("SHA256RNDS2 X0, %s, %s", st.a, st.c),
		ins("MOVQ %s, X0", hi),
		ins("SHA256RNDS2 X0, %s, %s", st.c, st.a))
}

func innerBlocks(st stream, inner msgSource) []block {
	init := block{"MOVL R8, AX"}
	if st.lane != 0 {
		init = append(init, ins("ADDL $%d, AX", st.lane))
	}
	// W3 goes to lanes 3 (A) and 1 (E) of ABEF and to lane 3 of group 0.
	init = append(init,
		"BSWAPL AX",
		ins("MOVQ AX, %s", st.r),
		ins("PSHUFD $0x11, %s, %s", st.r, st.a),
		ins("PADDD %d(BX), %s", offInnerABEF, st.a),
		ins("MOVO %d(BX), %s", offInnerCDGH, st.c),
		ins("PSHUFD $0x15, %s, %s", st.r, st.r),
		ins("PADDD %d(BX), %s", offM0, st.r),
	)
	m := &sched{st: st, src: inner, lastVar: 0}
	bs := []block{init}
	for g := 1; g < 16; g++ {
		if g >= 4 {
			bs = append(bs, m.group(g))
		}
		bs = append(bs, m.innerRounds(g))
	}
	return bs
}

// digestBlock adds the midstate to the inner state and writes the digest,
// the outer message's groups 0 and 1, to the ring and r.
func digestBlock(st stream) block {
	return block{
		ins("PADDD %d(BX), %s", offMidABEF, st.a),
		ins("PADDD %d(BX), %s", offMidCDGH, st.c),
		ins("MOVO %s, %s", st.a, st.s1),
		ins("PUNPCKHQDQ %s, %s", st.c, st.s1),
		ins("PSHUFD $0xb1, %s, %s", st.s1, st.s1),
		ins("MOVO %s, %d(BX)", st.s1, st.ring),
		ins("PUNPCKLQDQ %s, %s", st.c, st.a),
		ins("PSHUFD $0xb1, %s, %s", st.a, st.r),
		ins("MOVO %s, %d(BX)", st.r, st.ring+16),
	}
}

// outerBlocks runs rounds 1..60 from the state after round 0 (a constant
// plus W0 in lanes A and E). W+K of each variable group is kept in the
// frame: pair (4g+1, 4g+2) is a shuffle of group g, pair (4g-1, 4g) a
// PALIGNR of group g against group g-1.
func outerBlocks(st stream, outer msgSource) []block {
	bs := []block{{
		ins("PSHUFD $0x00, %d(BX), %s", st.ring, st.a),
		ins("PAND shaniLanesAE<>(SB), %s", st.a),
		ins("PADDD shaniOuter0<>+0(SB), %s", st.a),
		ins("MOVO shaniOuter0<>+16(SB), %s", st.c),
	}}
	m := &sched{st: st, src: outer, lastVar: 1}
	n := 0
	rnds := func() string {
		n++
		if n%2 == 1 {
			return ins("SHA256RNDS2 X0, %s, %s", st.a, st.c)
		}
		return ins("SHA256RNDS2 X0, %s, %s", st.c, st.a)
	}
	wk := func(g, off int) string {
		if _, ok := outer.mem[g]; ok {
			return ins("shaniOuterWK<>+%d(SB)", 16*(g-2)+off)
		}
		return st.wk(g, off)
	}
	for g := 0; g < 16; g++ {
		if g >= 4 {
			bs = append(bs, m.group(g))
		}
		var b block
		cur := ""
		if _, ok := outer.mem[g]; !ok {
			cur = st.s2
			b = append(b,
				ins("MOVO %s, %s", m.opnd(g), cur),
				ins("PADDD shaniK<>+%d(SB), %s", 16*g, cur),
				ins("MOVO %s, %s", cur, wk(g, 0)))
		}
		if g >= 1 {
			if cur != "" {
				b = append(b, ins("MOVO %s, X0", cur))
			} else {
				b = append(b, ins("MOVO %s, X0", wk(g, 0)))
			}
			b = append(b, ins("PALIGNR $12, %s, X0", wk(g-1, 0)), rnds())
		}
		if g <= 14 {
			if cur != "" {
				b = append(b, ins("PSHUFD $0x09, %s, X0", cur))
			} else {
				b = append(b, ins("MOVQ %s, X0", wk(g, 4)))
			}
			b = append(b, rnds())
		}
		bs = append(bs, b)
	}
	// Thirty SHA256RNDS2 leave ABEF in its own register; lane 1 is e
	// after round 60, which becomes the digest's last word.
	return append(bs, block{
		ins("MOVQ %s, AX", st.a),
		"SHRQ $32, AX",
		ins("ADDL $0x%08x, AX", iv[7]),
		"BSWAPL AX",
		ins("LEAL %d(R8), CX", st.lane),
		"MOVL CX, (DI)(R11*4)",
		"CMPL R10, AX",
		"SBBQ $-1, R11",
	})
}

func genSHANI(a *asm) {
	inner := msgSource{mem: map[int]string{}, zero: map[int]bool{}}
	outer := msgSource{mem: map[int]string{}, zero: map[int]bool{}}
	var innerM, innerWK, outerM, outerWK []uint32
	for i := 4; i < 16; i++ {
		innerM = append(innerM, innerW(i))
		innerWK = append(innerWK, innerW(i)+k[i])
		inner.zero[i] = innerW(i) == 0
	}
	for i := 8; i < 16; i++ {
		outerM = append(outerM, outerW(i))
		outerWK = append(outerWK, outerW(i)+k[i])
		outer.zero[i] = outerW(i) == 0
	}
	for g := 1; g < 4; g++ {
		inner.mem[g] = fmt.Sprintf("shaniInnerM<>+%d(SB)", 16*(g-1))
	}
	for g := 2; g < 4; g++ {
		outer.mem[g] = fmt.Sprintf("shaniOuterM<>+%d(SB)", 16*(g-2))
	}
	s := iv
	sha256core.Round(&s, 0, 0)
	a.data("shaniK", k[:])
	a.data("shaniInnerM", innerM)
	a.data("shaniInnerWK", innerWK)
	a.data("shaniOuterM", outerM)
	a.data("shaniOuterWK", outerWK)
	a.data("shaniOuter0", []uint32{s[5], s[4], s[1], s[0], s[7], s[6], s[3], s[2]})
	a.data("shaniLanesAE", []uint32{0, 0xffffffff, 0, 0xffffffff})
	for _, n := range []int{1, 2, 4} {
		genSHANIKernel(a, n, inner, outer)
	}
}

// genSHANIKernel writes the n-stream kernel shaniXn.
func genSHANIKernel(a *asm, n int, inner, outer msgSource) {
	name := fmt.Sprintf("shaniX%d", n)
	frame := paramsSize + streamBytes*n
	a.raw(fmt.Sprintf("\n// func %s(p *shaniParams, start, count, limit uint32, hits *uint32) int\n", name))
	a.raw(fmt.Sprintf("TEXT ·%s(SB), $%d-40\n", name, frame+16))
	a.op("MOVQ p+0(FP), SI")
	a.op("MOVL start+8(FP), R8")
	a.op("MOVL count+12(FP), R9")
	a.op("MOVL limit+16(FP), R10")
	a.op("MOVQ hits+24(FP), DI")
	a.op("XORQ R11, R11")
	a.comment("Copy the parameters to an aligned frame slot so SSE can use them as operands.")
	a.op("LEAQ 15(SP), BX")
	a.op("ANDQ $-16, BX")
	for off := 0; off < paramsSize; off += 16 {
		a.op("MOVOU %d(SI), X0", off)
		a.op("MOVO X0, %d(BX)", off)
	}
	a.op("TESTL R9, R9")
	a.op("JZ %s_done", name)
	a.label(name + "_loop")
	var streams [][]block
	for i := 0; i < n; i++ {
		st := stream{
			lane: i,
			a:    fmt.Sprintf("X%d", 1+3*i),
			c:    fmt.Sprintf("X%d", 2+3*i),
			r:    fmt.Sprintf("X%d", 3+3*i),
			ring: paramsSize + streamBytes*i,
			s1:   "X14", s2: "X15",
		}
		bs := append(innerBlocks(st, inner), digestBlock(st))
		streams = append(streams, append(bs, outerBlocks(st, outer)...))
	}
	a.interleave(streams)
	a.op("ADDL $%d, R8", n)
	a.op("SUBL $%d, R9", n)
	a.op("JNZ %s_loop", name)
	a.label(name + "_done")
	a.op("MOVQ R11, ret+32(FP)")
	a.op("RET")
}
