package main

import (
	"fmt"

	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/sha256core"
)

// Offsets in vecParams (register SI); see vec_amd64.go.
const (
	vpW0  = 0  // W0, W1, W2
	vpSt3 = 12 // inner state after round 3 with W3 = 0
	vpMid = 44 // midstate
)

// msgWords holds one block's message words and how many uses each has
// left, so registers free as soon as a word is dead.
type msgWords struct {
	w    [64]val
	uses [64]int
}

// countUses sets the uses of every word by the schedule words 16..last
// and the rounds first..last.
func (s *msgWords) countUses(first, last int) {
	for k := 16; k <= last; k++ {
		for _, j := range []int{k - 2, k - 7, k - 15, k - 16} {
			s.uses[j]++
		}
	}
	for j := first; j <= last; j++ {
		s.uses[j]++
	}
}

func (g *vgen) use(s *msgWords, j int) {
	s.uses[j]--
	if s.uses[j] == 0 {
		g.release(s.w[j])
	}
	if s.uses[j] < 0 {
		panic(fmt.Sprintf("asmgen: word %d used too often", j))
	}
}

// word computes message word i from the earlier ones.
func (g *vgen) word(s *msgWords, i int) {
	s1 := g.vSigma(smSigma1, s.w[i-2])
	s0 := g.vSigma(smSigma0, s.w[i-15])
	into := ""
	if s1.kind == kVec {
		into = s1.reg
	} else if s0.kind == kVec {
		into = s0.reg
	}
	s.w[i] = g.sum([]val{s1, s.w[i-7], s0, s.w[i-16]}, into)
	if s1.kind == kVec && s0.kind == kVec {
		g.release(s0)
	}
	for _, j := range []int{i - 2, i - 7, i - 15, i - 16} {
		g.use(s, j)
	}
	s.w[i] = g.spill(s.w[i])
}

// pre computes, for round i, t = h + W[i] + K[i] and dt = d + t, so that
// the round itself adds only what depends on its e and a. Without needT
// only dt is kept.
func (g *vgen) pre(s *msgWords, i int, h, d val, needT bool) (t, dt val) {
	t = g.sum([]val{h, s.w[i], cval(k[i])}, "")
	g.use(s, i)
	dt = g.sum([]val{d, t}, "")
	if !needT {
		g.release(t)
		t = val{}
	}
	return t, dt
}

// Ternary truth tables, destination first: Ch(e, f, g) with g as the
// destination (table index 4g+2e+f), Maj(a, b, c) with c as destination.
const (
	ternCh  = 0xb8
	ternMaj = 0xe8
)

// round runs round i on st, given its t and dt. next, when not nil, is
// called with the round's g and c (the next round's h and d) before the
// round overwrites them, and its result is returned. Without needA the new
// a is skipped (it never reaches e after round 60); with keep, g and c
// survive because the state after the round is the block's result.
func (g *vgen) round(st *[8]val, t, dt val, needA, keep bool, next func(h, d val) (val, val)) (val, val) {
	a, b, c, _, e, f, gg, _ := st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7]
	var nt, ndt val
	if next != nil {
		nt, ndt = next(gg, c)
	}
	ch := g.tern(ternCh, gg, e, f, !keep)
	s1 := g.vSigma(bigSigma1, e)
	into := ""
	if dt.kind == kVec {
		into = dt.reg
	}
	eNew := g.sum([]val{dt, ch, s1}, into)
	var aNew val
	if needA {
		into = ch.reg
		if t.kind == kVec {
			into = t.reg
		}
		t1 := g.sum([]val{t, ch, s1}, into)
		if t1.reg != ch.reg {
			g.release(ch)
		}
		g.release(s1)
		mj := g.tern(ternMaj, c, a, b, !keep)
		s0 := g.vSigma(bigSigma0, a)
		aNew = g.sum([]val{t1, mj, s0}, t1.reg)
		g.release(mj)
		g.release(s0)
	} else {
		g.release(ch)
		g.release(s1)
		g.release(t)
	}
	*st = [8]val{aNew, a, b, c, eNew, e, f, gg}
	return nt, ndt
}

// genVec writes one multi-buffer kernel. (Two interleaved groups of lanes,
// with the message words moved to the frame to free registers, measured
// slower on Zen 5 than one group with everything in registers.)
func genVec(a *asm, is *isa, name string) {
	limit := val{kind: kJob, mem: "0(SP)"}
	g := newVgen(is, name, is.regs, &ctable{consts: map[uint32]int{}}, 4)
	// Sixteen AVX2 registers cannot hold the message schedule.
	g.spillW = !is.evex
	genBody(g, limit)
	writeVecKernel(a, g, limit)
}

// genBody writes the loop body: both compressions of one nonce per lane,
// leaving in K1 (AVX-512) or AX (AVX2) a bit per lane that meets limit.
func genBody(g *vgen, limit val) {
	is := g.isa
	st := genInner(g)
	e := genOuter(g, st)
	// The top word: e after round 60 becomes h, plus the initial H7,
	// byte-swapped.
	g.vop("VPADDD", cval(iv[7]), e.reg, e.reg)
	g.body.op("VPSHUFB %s, %s, %s", is.bswap, e.reg, e.reg)
	if is.evex {
		g.body.op("VPCMPUD.BCST $2, %s, %s, K1", limit.mem, e.reg)
	} else {
		// e <= limit exactly when min(e, limit) == e.
		t := g.alloc()
		g.vop("VPMINUD", limit, e.reg, t)
		g.body.op("VPCMPEQD %s, %s, %s", e.reg, t, t)
		g.body.op("VMOVMSKPS %s, AX", t)
		g.free = append(g.free, t)
	}
	g.release(e)
}

// paramJob is the job word at offset off of the kernel's parameters.
func paramJob(off int) val { return val{kind: kJob, mem: fmt.Sprintf("%d(SI)", off)} }

// genInner writes the inner block and returns its final state. W3 is the
// byte-swapped nonce, and enters the state after round 3 through a and e.
func genInner(g *vgen) [8]val {
	var in msgWords
	for i := 0; i < 3; i++ {
		in.w[i] = paramJob(vpW0 + 4*i)
	}
	w3 := g.alloc()
	g.body.op("VPSHUFB %s, %s, %s", g.isa.bswap, g.isa.nonce, w3)
	in.w[3] = val{kind: kVec, reg: w3}
	for i := 4; i < 16; i++ {
		in.w[i] = cval(innerW(i))
	}
	in.countUses(4, 63)
	in.uses[3] += 2
	var st [8]val
	for i := range st {
		st[i] = paramJob(vpSt3 + 4*i)
	}
	st[0] = g.sum([]val{st[0], in.w[3]}, "")
	st[4] = g.sum([]val{st[4], in.w[3]}, "")
	g.use(&in, 3)
	g.use(&in, 3)
	in.w[3] = g.spill(in.w[3])
	t, dt := g.pre(&in, 4, st[7], st[3], true)
	for i := 4; i < 64; i++ {
		var next func(h, d val) (val, val)
		if i < 63 {
			if i+1 >= 16 {
				g.word(&in, i+1)
			}
			next = func(h, d val) (val, val) { return g.pre(&in, i+1, h, d, true) }
		}
		t, dt = g.round(&st, t, dt, true, i == 63, next)
	}
	return st
}

// genOuter writes the outer block on the inner state st and returns e
// after round 60. The outer message starts with the inner digest; the
// state after round 0 is a constant plus W0 in a and e.
func genOuter(g *vgen, st [8]val) val {
	var out msgWords
	for i := 0; i < 8; i++ {
		out.w[i] = g.sum([]val{st[i], paramJob(vpMid + 4*i)}, st[i].reg)
	}
	for i := 8; i < 16; i++ {
		out.w[i] = cval(outerW(i))
	}
	out.countUses(1, 60)
	out.uses[0] += 2
	o := iv
	sha256core.Round(&o, 0, 0)
	for i := range st {
		st[i] = cval(o[i])
	}
	st[0] = g.sum([]val{st[0], out.w[0]}, "")
	st[4] = g.sum([]val{st[4], out.w[0]}, "")
	g.use(&out, 0)
	g.use(&out, 0)
	for i := 0; i < 8; i++ {
		out.w[i] = g.spill(out.w[i])
	}
	t, dt := g.pre(&out, 1, st[7], st[3], true)
	for i := 1; i <= 60; i++ {
		var next func(h, d val) (val, val)
		if i < 60 {
			if i+1 >= 16 {
				g.word(&out, i+1)
			}
			next = func(h, d val) (val, val) { return g.pre(&out, i+1, h, d, i+1 <= 56) }
		}
		t, dt = g.round(&st, t, dt, i <= 56, false, next)
	}
	for i, v := range st {
		if i != 4 {
			g.release(v)
		}
	}
	return st[4]
}

// writeVecKernel assembles the function around the generated loop body.
func writeVecKernel(a *asm, g *vgen, limit val) {
	name, is := g.name, g.isa
	lanes := is.lanes
	// The constant for advancing the nonces joins the table before it is
	// written.
	step := g.body
	g.body = asm{}
	g.vop("VPADDD", cval(uint32(lanes)), is.nonce, is.nonce)
	advance := g.body.buf.String()
	g.body = step
	frame := (g.frame + 15) &^ 15
	a.raw(fmt.Sprintf("\n// func %s(p *vecParams, start, count, limit uint32, hits *uint32) int\n", name))
	a.raw(fmt.Sprintf("TEXT ·%s(SB), $%d-40\n", name, frame))
	a.op("MOVQ p+0(FP), SI")
	a.op("MOVL start+8(FP), R8")
	a.op("MOVL count+12(FP), R9")
	a.op("MOVL limit+16(FP), R10")
	a.op("MOVQ hits+24(FP), DI")
	a.op("XORQ R11, R11")
	a.op("MOVL R10, %s", limit.mem)
	a.op("TESTL R9, R9")
	a.op("JZ %s_done", name)
	a.comment("Values every lane shares, computed once.")
	a.raw(g.pro.buf.String())
	if is.evex {
		a.op("VPBROADCASTD R8, %s", is.nonce)
	} else {
		x := "X" + is.nonce[1:]
		a.op("VMOVD R8, %s", x)
		a.op("VPBROADCASTD %s, %s", x, is.nonce)
	}
	a.op("VPADDD %sLanes<>(SB), %s, %s", name, is.nonce, is.nonce)
	a.op("%s %sBswap<>(SB), %s", is.movu, name, is.bswap)
	a.label(name + "_loop")
	a.raw(g.body.buf.String())
	if is.evex {
		a.op("KMOVW K1, AX")
	}
	a.comment("Keep the lanes below count, then record each hit in lane order.")
	a.op("MOVL $%d, DX", lanes)
	a.op("CMPL R9, DX")
	a.op("CMOVLCS R9, DX")
	a.op("BZHIL DX, AX, AX")
	a.label(name + "_hits")
	a.op("TESTL AX, AX")
	a.op("JZ %s_next", name)
	a.op("TZCNTL AX, CX")
	a.op("LEAL (R8)(CX*1), DX")
	a.op("MOVL DX, (DI)(R11*4)")
	a.op("INCQ R11")
	a.op("BLSRL AX, AX")
	a.op("JMP %s_hits", name)
	a.label(name + "_next")
	a.raw(advance)
	a.op("CMPL R9, $%d", lanes)
	a.op("JLS %s_done", name)
	a.op("SUBL $%d, R9", lanes)
	a.op("ADDL $%d, R8", lanes)
	a.op("JMP %s_loop", name)
	a.label(name + "_done")
	a.op("VZEROUPPER")
	a.op("MOVQ R11, ret+32(FP)")
	a.op("RET")

	var laneIdx, bswap, consts []uint32
	for i := 0; i < is.lanes; i++ {
		laneIdx = append(laneIdx, uint32(i))
		bswap = append(bswap, 0x00010203+0x04040404*uint32(i%4))
	}
	for _, c := range g.clist {
		consts = append(consts, c)
		for i := 1; i < is.lanes && !is.evex; i++ {
			consts = append(consts, c)
		}
	}
	a.data(name+"Lanes", laneIdx)
	a.data(name+"Bswap", bswap)
	a.data(name+"C", consts)
}
