package kernel

// shaniParams is what the SHA-NI kernels read, the state vectors in the
// register layout SHA256RNDS2 uses: ABEF = {F, E, B, A} and CDGH =
// {H, G, D, C} from the lowest lane up. Offsets are fixed by the generator.
type shaniParams struct {
	inner [2][4]uint32 // inner state after round 3 with W3 = 0
	mid   [2][4]uint32 // midstate, added to the inner result
	m0    [4]uint32    // W0, W1, W2 and a zero lane for W3
}

func shaniState(s *[8]uint32) [2][4]uint32 {
	return [2][4]uint32{{s[5], s[4], s[1], s[0]}, {s[7], s[6], s[3], s[2]}}
}

// The kernels shaniXn keep n nonces in flight and take multiples of n.
//
//go:noescape
func shaniX1(p *shaniParams, start, count, limit uint32, hits *uint32) int

//go:noescape
func shaniX2(p *shaniParams, start, count, limit uint32, hits *uint32) int

//go:noescape
func shaniX4(p *shaniParams, start, count, limit uint32, hits *uint32) int

// scanSHANI returns a Scan built on the n-stream kernel.
func scanSHANI(kernel asmKernel[shaniParams], n uint32) scanFunc {
	return func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 {
		j := newJob(mid, tail)
		p := shaniParams{
			inner: shaniState(&j.st3),
			mid:   shaniState(&j.mid),
			m0:    [4]uint32{j.w0, j.w1, j.w2, 0},
		}
		return runKernel(&p, kernel, shaniX1, n, start, count, limit, out)
	}
}
