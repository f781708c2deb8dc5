package mining

import (
	"context"
	"testing"
	"time"
)

// BenchmarkValidatorCheck measures host re-verification of one reported
// nonce (rebuild header, SHA-256d, target checks, duplicate filter).
func BenchmarkValidatorCheck(b *testing.B) {
	j := jobB(b)
	w := &Work{Job: j, Extranonce2: Extranonce2(1, 4), Version: j.Version, NTime: j.NTime, state: &jobState{job: j}}
	w.Header = j.Header(j.MerkleRoot(w.Extranonce2), w.Version, w.NTime, 0)
	v := NewValidator(NewHashrate(time.Now()), nil)
	loose := TargetFromTop32(0xffffffff)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = v.Check(Result{Work: w, Nonce: uint32(i), Target: loose})
	}
}

// BenchmarkDispatcherNext measures handing out one work slot: merkle root,
// header and midstate for a fresh (extranonce2, version) pair.
func BenchmarkDispatcherNext(b *testing.B) {
	d := NewDispatcher(nil)
	j := jobB(b)
	j.VersionMask = 0x1fffe000
	d.SetJob(j)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
