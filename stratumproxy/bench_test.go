package stratumproxy

import (
	"testing"
	"time"
)

// BenchmarkDecodeNotify measures turning a mining.notify line into a job:
// the client does it for every job a pool sends.
func BenchmarkDecodeNotify(b *testing.B) {
	line := []byte(codecNotifyB)
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseMessage(line)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeNotify(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateShare measures the pool side of a submit: rebuild the
// coinbase, merkle root and header, SHA-256d, and check the target.
func BenchmarkValidateShare(b *testing.B) {
	j := srvJobFromNotify(b, codecNotifyB, "f000000f", 0x1fffe000, 1.0/1024)
	s := srvSubmitOf(b, codecSubmitRolled)
	now := time.Unix(0x66255d00, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateShare(j, s, now); err != nil {
			b.Fatal(err)
		}
	}
}
