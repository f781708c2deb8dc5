//go:build amd64 || arm64

package kernel

// chunk is the most nonces one assembly kernel call hashes: a multiple of
// every kernel width, and small enough for a hit buffer on the stack.
const chunk = 960

// asmKernel is the shape of the assembly kernels: hash count nonces from
// start, write the qualifying ones to hits in increasing order, return how
// many were written. hits must hold count entries.
type asmKernel[P any] func(p *P, start, count, limit uint32, hits *uint32) int

// runKernel runs kernel over the range in chunks, appending the hits to
// out. A kernel that takes only multiples of width nonces leaves the rest
// (fewer than width) to tail, a one-nonce-at-a-time kernel.
func runKernel[P any](p *P, kernel, tail asmKernel[P], width, start, count, limit uint32, out []uint32) []uint32 {
	var hits [chunk]uint32
	for count > 0 {
		n, k := min(count, chunk), kernel
		if n < width {
			k = tail
		} else {
			n -= n % width
		}
		got := k(p, start, n, limit, &hits[0])
		out = append(out, hits[:got]...)
		start += n
		count -= n
	}
	return out
}
