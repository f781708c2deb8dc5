package main

import (
	"fmt"
	"math/bits"
)

// Multi-buffer kernels: every lane of a vector register hashes its own
// nonce. The generator evaluates the two compressions symbolically: a
// value is a constant known now, a job value (the same in every lane,
// computed once per call by scalar code into the frame) or a vector. Only
// vectors cost instructions in the loop, so everything the nonce does not
// reach is folded or hoisted.

type vkind int

const (
	kConst vkind = iota // known when generating
	kJob                // the same in every lane: a 32-bit memory operand
	kVec                // one word per lane: a register
	kSpill              // one word per lane, in a frame slot
)

type val struct {
	kind vkind
	c    uint32 // kConst
	mem  string // kJob, kSpill
	reg  string // kVec
}

func cval(c uint32) val { return val{kind: kConst, c: c} }

// vgen accumulates one kernel.
type vgen struct {
	isa   *isa
	pro   asm // scalar code that computes job values, before the loop
	body  asm // the loop
	free  []string
	slots []string // free spill slots
	*ctable
	bcast map[string]string // job value -> its broadcast frame slot (AVX2)
	frame int               // bytes of frame used
	// spillW keeps message words in the frame rather than registers.
	spillW bool
	name   string
}

// isa describes the vector instruction set a kernel is written in.
type isa struct {
	lanes int
	// evex selects AVX-512: 32 registers, rotates, ternary logic and
	// broadcast memory operands. Without it the kernel is AVX2.
	evex bool
	regs []string // allocatable vector registers
	// Reserved registers: the nonces of the lanes and the byte-swap mask.
	nonce, bswap string
	// Register-to-register and unaligned memory moves.
	mov, movu string
}

var avx512 = &isa{
	lanes: 16, evex: true,
	regs: []string{"Z0", "Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7", "Z8", "Z9", "Z10", "Z11",
		"Z12", "Z13", "Z14", "Z15", "Z16", "Z17", "Z18", "Z19", "Z20", "Z21", "Z22", "Z23",
		"Z24", "Z25", "Z26", "Z27", "Z28", "Z29"},
	nonce: "Z31", bswap: "Z30", mov: "VMOVDQA32", movu: "VMOVDQU32",
}

var avx2 = &isa{
	lanes: 8,
	regs: []string{"Y0", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Y8", "Y9", "Y10", "Y11",
		"Y12", "Y13"},
	nonce: "Y14", bswap: "Y15", mov: "VMOVDQA", movu: "VMOVDQU",
}

func (is *isa) vecBytes() int { return 4 * is.lanes }

// ctable is a kernel's table of constants, shared by its groups.
type ctable struct {
	consts map[uint32]int
	clist  []uint32
}

// newVgen starts a group of lanes that uses registers regs, constant
// table t, and the frame from offset frame on.
func newVgen(is *isa, name string, regs []string, t *ctable, frame int) *vgen {
	g := &vgen{isa: is, ctable: t, bcast: map[string]string{}, name: name, frame: frame}
	for i := len(regs) - 1; i >= 0; i-- {
		g.free = append(g.free, regs[i])
	}
	return g
}

func (g *vgen) alloc() string {
	if len(g.free) == 0 {
		panic("asmgen: out of vector registers in " + g.name)
	}
	r := g.free[len(g.free)-1]
	g.free = g.free[:len(g.free)-1]
	return r
}

func (g *vgen) release(v val) {
	switch v.kind {
	case kVec:
		g.free = append(g.free, v.reg)
	case kSpill:
		g.slots = append(g.slots, v.mem)
	}
}

// vecSlot reserves a vector-sized frame slot for a spilled vector,
// reusing those of dead ones.
func (g *vgen) vecSlot() string {
	if n := len(g.slots); n > 0 {
		s := g.slots[n-1]
		g.slots = g.slots[:n-1]
		return s
	}
	return g.newVecSlot()
}

// newVecSlot reserves a vector-sized frame slot of its own.
func (g *vgen) newVecSlot() string {
	w := g.isa.vecBytes()
	g.frame = (g.frame + w - 1) &^ (w - 1)
	s := fmt.Sprintf("%d(SP)", g.frame)
	g.frame += w
	return s
}

// spill moves a message word to a frame slot, when the group's registers
// cannot hold the message schedule.
func (g *vgen) spill(v val) val {
	if !g.spillW || v.kind != kVec {
		return v
	}
	m := g.vecSlot()
	g.body.op("%s %s, %s", g.isa.movu, v.reg, m)
	g.release(v)
	return val{kind: kSpill, mem: m}
}

// constMem is the memory operand of a constant in the kernel's table: one
// word for AVX-512 broadcasts, a whole vector for AVX2.
func (g *vgen) constMem(c uint32) string {
	off, ok := g.consts[c]
	if !ok {
		off = len(g.clist)
		g.consts[c] = off
		g.clist = append(g.clist, c)
	}
	if g.isa.evex {
		off *= 4
	} else {
		off *= g.isa.vecBytes()
	}
	return fmt.Sprintf("%sC<>+%d(SB)", g.name, off)
}

// scalarMem is the 32-bit memory operand of a constant or job value.
func (g *vgen) scalarMem(v val) string {
	if v.kind == kConst {
		return fmt.Sprintf("%sC<>+%d(SB)", g.name, g.constOff(v.c))
	}
	return v.mem
}

// constOff is the byte offset of a constant's first word in the table.
func (g *vgen) constOff(c uint32) int {
	g.constMem(c)
	if g.isa.evex {
		return 4 * g.consts[c]
	}
	return g.isa.vecBytes() * g.consts[c]
}

// operand is v as the memory-or-register source of a vector instruction,
// and whether the instruction must broadcast it.
func (g *vgen) operand(v val) (string, bool) {
	switch {
	case v.kind == kVec:
		return v.reg, false
	case v.kind == kSpill:
		return v.mem, false
	case g.isa.evex:
		return g.scalarMem(v), true
	case v.kind == kConst:
		return g.constMem(v.c), false
	}
	slot, ok := g.bcast[v.mem]
	if !ok {
		slot = g.newVecSlot()
		g.bcast[v.mem] = slot
		g.pro.op("VPBROADCASTD %s, %s", v.mem, g.isa.bswap)
		g.pro.op("VMOVDQU %s, %s", g.isa.bswap, slot)
	}
	return slot, false
}

// newJob reserves a frame slot for a job value.
func (g *vgen) newJob() val {
	g.frame = (g.frame + 3) &^ 3
	v := val{kind: kJob, mem: fmt.Sprintf("%d(SP)", g.frame)}
	g.frame += 4
	return v
}

// Scalar code, run once per call.

func (g *vgen) sLoad(v val, reg string) {
	if v.kind == kConst {
		g.pro.op("MOVL $0x%08x, %s", v.c, reg)
	} else {
		g.pro.op("MOVL %s, %s", v.mem, reg)
	}
}

func (g *vgen) sAdd(terms []val) val {
	var c uint32
	var jobs []val
	for _, t := range terms {
		if t.kind == kConst {
			c += t.c
		} else {
			jobs = append(jobs, t)
		}
	}
	if len(jobs) == 0 {
		return cval(c)
	}
	if len(jobs) == 1 && c == 0 {
		return jobs[0]
	}
	g.sLoad(jobs[0], "AX")
	for _, t := range jobs[1:] {
		g.pro.op("ADDL %s, AX", t.mem)
	}
	if c != 0 {
		g.pro.op("ADDL $0x%08x, AX", c)
	}
	out := g.newJob()
	g.pro.op("MOVL AX, %s", out.mem)
	return out
}

// sigma is x>>>r0 ^ x>>>r1 ^ (x>>>r2, or x>>r2 when shift).
type sigma struct {
	r0, r1, r2 int
	shift      bool
}

var (
	bigSigma0 = sigma{2, 13, 22, false}
	bigSigma1 = sigma{6, 11, 25, false}
	smSigma0  = sigma{7, 18, 3, true}
	smSigma1  = sigma{17, 19, 10, true}
)

func (s sigma) eval(x uint32) uint32 {
	y := bits.RotateLeft32(x, -s.r0) ^ bits.RotateLeft32(x, -s.r1)
	if s.shift {
		return y ^ x>>s.r2
	}
	return y ^ bits.RotateLeft32(x, -s.r2)
}

func (g *vgen) sSigma(s sigma, x val) val {
	if x.kind == kConst {
		return cval(s.eval(x.c))
	}
	g.sLoad(x, "AX")
	g.pro.op("MOVL AX, CX")
	g.pro.op("RORL $%d, CX", s.r0)
	g.pro.op("MOVL AX, DX")
	g.pro.op("RORL $%d, DX", s.r1)
	g.pro.op("XORL DX, CX")
	if s.shift {
		g.pro.op("SHRL $%d, AX", s.r2)
	} else {
		g.pro.op("RORL $%d, AX", s.r2)
	}
	g.pro.op("XORL AX, CX")
	out := g.newJob()
	g.pro.op("MOVL CX, %s", out.mem)
	return out
}

// Vector code.

// vop writes a two-source vector instruction whose second source may be
// in memory or a scalar.
func (g *vgen) vop(op string, src val, a, dst string) {
	o, bcst := g.operand(src)
	if bcst {
		op += ".BCST"
	}
	g.body.op("%s %s, %s, %s", op, o, a, dst)
}

// materialize puts v in a register; owned reports whether the register is
// a new one the caller must release.
func (g *vgen) materialize(v val) (reg string, owned bool) {
	switch v.kind {
	case kVec:
		return v.reg, false
	case kSpill:
		r := g.alloc()
		g.body.op("%s %s, %s", g.isa.movu, v.mem, r)
		return r, true
	}
	r := g.alloc()
	g.body.op("VPBROADCASTD %s, %s", g.scalarMem(v), r)
	return r, true
}

// sum adds terms. into, if not empty, is the register of a vector term
// that dies here and may hold the result; otherwise the result gets a new
// register (or is a scalar when no term is a vector).
func (g *vgen) sum(terms []val, into string) val {
	var vecs, scal []val
	for _, t := range terms {
		if t.kind == kVec || t.kind == kSpill {
			vecs = append(vecs, t)
		} else {
			scal = append(scal, t)
		}
	}
	s := g.sAdd(scal)
	if len(vecs) == 0 {
		return s
	}
	dst := into
	if dst == "" {
		dst = g.alloc()
	}
	// Start from the term already in dst, else from any register.
	first := -1
	for i, v := range vecs {
		if v.kind == kVec && (first < 0 || v.reg == dst) {
			first = i
		}
	}
	acc := ""
	if first < 0 {
		g.body.op("%s %s, %s", g.isa.movu, vecs[0].mem, dst)
		acc, vecs = dst, vecs[1:]
	} else {
		acc = vecs[first].reg
		vecs = append(vecs[:first:first], vecs[first+1:]...)
	}
	for _, v := range vecs {
		g.vop("VPADDD", v, acc, dst)
		acc = dst
	}
	if s.kind != kConst || s.c != 0 {
		g.vop("VPADDD", s, acc, dst)
		acc = dst
	}
	if acc != dst {
		g.body.op("%s %s, %s", g.isa.mov, acc, dst)
	}
	return val{kind: kVec, reg: dst}
}

// vSigma computes a sigma function of a vector into a new register.
func (g *vgen) vSigma(s sigma, x val) val {
	if x.kind != kVec && x.kind != kSpill {
		return g.sSigma(s, x)
	}
	xr, owned := g.materialize(x)
	d, t := g.alloc(), g.alloc()
	if g.isa.evex {
		t1 := g.alloc()
		g.body.op("VPRORD $%d, %s, %s", s.r0, xr, d)
		g.body.op("VPRORD $%d, %s, %s", s.r1, xr, t)
		if s.shift {
			g.body.op("VPSRLD $%d, %s, %s", s.r2, xr, t1)
		} else {
			g.body.op("VPRORD $%d, %s, %s", s.r2, xr, t1)
		}
		g.body.op("VPTERNLOGD $0x96, %s, %s, %s", t1, t, d)
		g.free = append(g.free, t1)
	} else {
		// Rotations as shift pairs; all the pieces are disjoint or
		// cancel in the XOR, so no OR is needed.
		g.body.op("VPSRLD $%d, %s, %s", s.r0, xr, d)
		shifts := []string{fmt.Sprintf("VPSLLD $%d", 32-s.r0), fmt.Sprintf("VPSRLD $%d", s.r1),
			fmt.Sprintf("VPSLLD $%d", 32-s.r1), fmt.Sprintf("VPSRLD $%d", s.r2)}
		if !s.shift {
			shifts = append(shifts, fmt.Sprintf("VPSLLD $%d", 32-s.r2))
		}
		for _, sh := range shifts {
			g.body.op("%s, %s, %s", sh, xr, t)
			g.body.op("VPXOR %s, %s, %s", t, d, d)
		}
	}
	g.free = append(g.free, t)
	if owned {
		g.free = append(g.free, xr)
	}
	return val{kind: kVec, reg: d}
}

// tern computes the bitwise function imm of (a, b, c), a being the high
// bit of the truth-table index. a is the destination: overwritten when
// destroy is set and a is a vector, else copied or broadcast into a new
// register. b and c may be scalars. The AVX2 kernel knows only the two
// tables the rounds use.
func (g *vgen) tern(imm int, a, b, c val, destroy bool) val {
	var d string
	switch {
	case a.kind == kVec && destroy:
		d = a.reg
	case a.kind == kVec:
		d = g.alloc()
		g.body.op("%s %s, %s", g.isa.mov, a.reg, d)
	default:
		d, _ = g.materialize(a)
	}
	if !g.isa.evex {
		g.tern2(imm, d, b, c)
		return val{kind: kVec, reg: d}
	}
	if b.kind != kVec && c.kind == kVec {
		// Only the last source can be broadcast from memory: swap b and c
		// by swapping their index bits in the table.
		imm = swapTableBC(imm)
		b, c = c, b
	}
	br, owned := g.materialize(b)
	o, bcst := g.operand(c)
	op := "VPTERNLOGD"
	if bcst {
		op += ".BCST"
	}
	g.body.op("%s $0x%02x, %s, %s, %s", op, imm, o, br, d)
	if owned {
		g.free = append(g.free, br)
	}
	return val{kind: kVec, reg: d}
}

// tern2 is tern in AVX2 for Ch (d = g, b = e, c = f) and Maj (d = c,
// b = a, c = b).
func (g *vgen) tern2(imm int, d string, b, c val) {
	br, owned := g.materialize(b)
	co, _ := g.operand(c)
	t := g.alloc()
	switch imm {
	case ternCh: // g ^ (e & (f ^ g))
		g.body.op("VPXOR %s, %s, %s", co, d, t)
		g.body.op("VPAND %s, %s, %s", br, t, t)
		g.body.op("VPXOR %s, %s, %s", t, d, d)
	case ternMaj: // (a & b) | (c & (a | b))
		t2 := g.alloc()
		g.body.op("VPOR %s, %s, %s", co, br, t)
		g.body.op("VPAND %s, %s, %s", d, t, t)
		g.body.op("VPAND %s, %s, %s", co, br, t2)
		g.body.op("VPOR %s, %s, %s", t2, t, d)
		g.free = append(g.free, t2)
	default:
		panic(fmt.Sprintf("asmgen: no AVX2 form of ternary table %#x", imm))
	}
	g.free = append(g.free, t)
	if owned {
		g.free = append(g.free, br)
	}
}

// swapTableBC exchanges the roles of inputs b and c in a ternary truth
// table indexed by 4a+2b+c.
func swapTableBC(imm int) int {
	out := 0
	for i := 0; i < 8; i++ {
		a, b, c := i>>2&1, i>>1&1, i&1
		j := a<<2 | c<<1 | b
		out |= (imm >> i & 1) << j
	}
	return out
}
