package kernel

// vecParams is what the multi-buffer kernels read: job words they
// broadcast to every lane. Offsets are fixed by the generator.
type vecParams struct {
	w   [3]uint32 // W0, W1, W2 of the inner block
	st3 [8]uint32 // inner state after round 3 with W3 = 0
	mid [8]uint32 // midstate
}

// The multi-buffer kernels take any count: the lanes past the end are
// computed and ignored.
//
//go:noescape
func avx512x16(p *vecParams, start, count, limit uint32, hits *uint32) int

//go:noescape
func avx2x8(p *vecParams, start, count, limit uint32, hits *uint32) int

// scanVec returns a Scan built on a multi-buffer kernel.
func scanVec(kernel asmKernel[vecParams]) scanFunc {
	return func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 {
		j := newJob(mid, tail)
		p := vecParams{w: [3]uint32{j.w0, j.w1, j.w2}, st3: j.st3, mid: j.mid}
		return runKernel(&p, kernel, kernel, 1, start, count, limit, out)
	}
}
