package kernel

import "golang.org/x/sys/cpu"

// sha2Params is what the arm64 kernels read, state halves in lane order
// (ABCD, EFGH). Offsets are fixed by the generator.
type sha2Params struct {
	st3 [8]uint32 // inner state after round 3 with W3 = 0
	mid [8]uint32 // midstate
	m0  [4]uint32 // W0, W1, W2 and a zero lane for W3
}

// The kernels sha2Xn keep n nonces in flight and take multiples of n.
//
//go:noescape
func sha2X1(p *sha2Params, start, count, limit uint32, hits *uint32) int

//go:noescape
func sha2X2(p *sha2Params, start, count, limit uint32, hits *uint32) int

// scanSHA2 returns a Scan built on the n-stream kernel.
func scanSHA2(kernel asmKernel[sha2Params], n uint32) scanFunc {
	return func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 {
		j := newJob(mid, tail)
		p := sha2Params{st3: j.st3, mid: j.mid, m0: [4]uint32{j.w0, j.w1, j.w2, 0}}
		return runKernel(&p, kernel, sha2X1, n, start, count, limit, out)
	}
}

// platformImpls lists the arm64 kernels. Their speed is untested on
// hardware; two nonces in flight hide the latency of SHA256H/SHA256H2.
func platformImpls() []Impl {
	return []Impl{
		{Name: "sha2-x2", Available: cpu.ARM64.HasSHA2, Scan: scanSHA2(sha2X2, 2)},
		{Name: "sha2-x1", Available: cpu.ARM64.HasSHA2, Scan: scanSHA2(sha2X1, 1)},
	}
}
