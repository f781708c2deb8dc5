// Package kernel is the hot loop of the CPU mining backend: it hashes block
// headers that differ only in their nonce and reports the nonces whose
// SHA-256d hash meets a 32-bit limit on the hash's top word.
//
// Everything that does not depend on the nonce is computed once per call
// (the inner block's first rounds, the constant parts of both message
// schedules), and the outer hash stops as soon as its last state word is
// known: the top word of the hash is that word, byte-swapped, so the last
// three rounds are never run.
//
// Several implementations are compiled in (see Impls): on amd64 an
// AVX-512 sixteen-lane kernel, SHA-NI kernels with four, two and one
// nonces in flight and an AVX2 eight-lane kernel; on arm64 SHA2-extension
// kernels with two and one nonces in flight; everywhere a portable one.
// Which is fastest depends on the core (on a Zen 5 core AVX-512 is about
// twice SHA-NI; on cores that split 512-bit work or run SHA256RNDS2 faster
// it is not), so the first Scan times each available kernel for a moment
// and uses the fastest from then on.
package kernel

//go:generate go run ./internal/asmgen -out .

import (
	"sync"
	"time"
)

// Impl is one kernel implementation. Tests and benchmarks run every
// available one; Scan uses the fastest.
type Impl struct {
	// Name identifies the implementation, e.g. "sha-ni-x2".
	Name string
	// Available reports whether this CPU can run it.
	Available bool
	// Scan has the contract of the package-level Scan.
	Scan func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32
}

// scanFunc is the signature of Scan and Impl.Scan.
type scanFunc = func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32

// impls lists every compiled-in implementation, fastest first as measured
// on a Zen 5 core.
var impls = append(platformImpls(), Impl{Name: "generic", Available: true, Scan: scanGeneric})

var (
	bestOnce sync.Once
	best     Impl
)

// fastest returns the implementation Scan uses, timing the candidates on
// first use.
func fastest() Impl {
	bestOnce.Do(func() { best = calibrate(impls) })
	return best
}

// calibrationNonces is how many nonces each candidate hashes per timing
// run: a fraction of a millisecond for the vector kernels.
const calibrationNonces = 8192

// calibrate returns the available implementation that hashes fastest on
// this core, by the best of three short runs each. The portable kernel
// only competes when it is the only one.
func calibrate(list []Impl) Impl {
	var cands []Impl
	for _, im := range list {
		if im.Available && im.Name != "generic" {
			cands = append(cands, im)
		}
	}
	if len(cands) == 0 {
		return list[len(list)-1]
	}
	var mid [8]uint32
	var tail [3]uint32
	buf := make([]uint32, 0, 16)
	pick, pickTime := cands[0], time.Duration(1<<62)
	for _, im := range cands {
		for range 3 {
			t0 := time.Now()
			im.Scan(&mid, &tail, 0, calibrationNonces, 0, buf[:0])
			if d := time.Since(t0); d < pickTime {
				pick, pickTime = im, d
			}
		}
	}
	return pick
}

// Impls returns every implementation compiled into this binary, each
// marked with whether this CPU can run it.
func Impls() []Impl {
	return append([]Impl(nil), impls...)
}

// Implementation names the implementation Scan uses on this CPU.
func Implementation() string { return fastest().Name }

// Scan hashes the block headers described by mid (the SHA-256 state H0..H7
// after the header's first 64 bytes) and tail (header bytes 64..75 read as
// three big-endian words: merkle-root tail, ntime, nbits) for the nonces
// start, start+1, ..., start+count-1, and appends to out every nonce whose
// SHA-256d hash has a top word at most limit. The top word is the most
// significant 32 bits of the hash read as a little-endian 256-bit integer,
// binary.LittleEndian.Uint32(hash[28:32]). Nonces are appended in
// increasing order. Callers keep start+count <= 2^32; the range never
// wraps. Scan returns the extended out.
func Scan(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 {
	return fastest().Scan(mid, tail, start, count, limit, out)
}
