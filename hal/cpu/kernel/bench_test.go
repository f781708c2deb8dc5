package kernel

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// benchChunk is the nonces per Scan call in benchmarks, like a backend
// that checks for new work every few milliseconds.
const benchChunk = 1 << 16

func reportRate(b *testing.B, nonces float64) {
	sec := b.Elapsed().Seconds()
	if sec > 0 {
		b.ReportMetric(nonces/sec/1e6, "MH/s")
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/nonces, "ns/nonce")
}

func BenchmarkScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	_, mid, tail := refHeader(rng)
	for _, im := range Impls() {
		if !im.Available {
			continue
		}
		b.Run(im.Name, func(b *testing.B) {
			out := make([]uint32, 0, 64)
			var nonces float64
			start := uint32(0)
			for b.Loop() {
				// Limit 0: the rate of pure search, as at real share targets.
				out = im.Scan(&mid, &tail, start, benchChunk, 0, out[:0])
				start += benchChunk
				nonces += benchChunk
			}
			reportRate(b, nonces)
		})
	}
}

// BenchmarkCryptoSHA256 is the baseline: SHA-256d of the whole header with
// the standard library, one nonce at a time.
func BenchmarkCryptoSHA256(b *testing.B) {
	var hdr [80]byte
	var nonces float64
	for b.Loop() {
		for n := uint32(0); n < 1024; n++ {
			binary.LittleEndian.PutUint32(hdr[76:], n)
			first := sha256.Sum256(hdr[:])
			hash := sha256.Sum256(first[:])
			hdr[0] ^= hash[31]
		}
		nonces += 1024
	}
	reportRate(b, nonces)
}
