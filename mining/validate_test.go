package mining

import (
	"errors"
	"testing"
	"time"
)

func TestValidator(t *testing.T) {
	j := jobB(t)
	w := &Work{Job: j, Extranonce2: Extranonce2(1, 4), Version: j.Version, NTime: j.NTime, state: &jobState{job: j}}
	w.Header = j.Header(j.MerkleRoot(w.Extranonce2), w.Version, w.NTime, 0)
	unit := TargetFromTop32(0x0000ffff)
	now := time.Unix(1_700_000_000, 0)
	hr := NewHashrate(now.Add(-time.Minute))
	v := NewValidator(hr, func() time.Time { return now })

	share, err := v.Check(Result{Work: w, Nonce: 0x004417c8, Target: unit, Unit: 3})
	if err != nil || share == nil {
		t.Fatalf("known share: share=%v err=%v", share, err)
	}
	if share.Nonce != 0x004417c8 || share.Unit != 3 || share.VersionBits != 0 || share.Difficulty < 0.000996 {
		t.Errorf("share = %+v", share)
	}
	if _, err := v.Check(Result{Work: w, Nonce: 0x004417c8, Target: unit}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("repeat = %v, want ErrDuplicate", err)
	}
	// A nonce that does not meet the unit's claimed target is a hardware error.
	if _, err := v.Check(Result{Work: w, Nonce: 1, Target: TargetFromTop32(0)}); !errors.Is(err, ErrHardware) {
		t.Errorf("bad nonce = %v, want ErrHardware", err)
	}
	// Version bits outside the (empty) mask are a hardware error.
	if _, err := v.Check(Result{Work: w, Nonce: 0x004417c8, Version: 0x20002000, Target: unit}); !errors.Is(err, ErrHardware) {
		t.Errorf("rolled outside mask = %v, want ErrHardware", err)
	}
	// A good result below the share target: no share, no error.
	loose := TargetFromTop32(0xffffffff)
	if s, err := v.Check(Result{Work: w, Nonce: 7, Target: loose}); s != nil || err != nil {
		t.Errorf("result below share target: share=%v err=%v", s, err)
	}
	w.state.stale.Store(true)
	if _, err := v.Check(Result{Work: w, Nonce: 0x0000_0000 + 0x004417c8, Target: unit}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate check must come before stale: %v", err)
	}
	st := v.Stats()
	// Verified results: the share, its two duplicates, and the one below target.
	if want := uint64(3*65536 + 1); st.Hashes != want {
		t.Errorf("hashes = %d, want %d", st.Hashes, want)
	}
	if st.HWErrors != 2 || st.Duplicates != 2 || st.Shares != 1 || st.Results != 6 {
		t.Errorf("stats = %+v", st)
	}
	if r := hr.Rate(now, Window1m); r <= 0 {
		t.Errorf("hashrate not fed: %v", r)
	}
}

func TestValidatorRolledVersionAndStale(t *testing.T) {
	j := jobB(t)
	j.VersionMask = 0x1fffe000
	st := &jobState{job: j}
	w := &Work{Job: j, Extranonce2: Extranonce2(1, 4), Version: j.Version, NTime: j.NTime, state: st}
	w.Header = j.Header(j.MerkleRoot(w.Extranonce2), w.Version, w.NTime, 0)
	v := NewValidator(nil, nil)
	share, err := v.Check(Result{Work: w, Nonce: 0x0022ade0, Version: 0x22468000, Target: TargetFromTop32(0xffff)})
	if err != nil || share == nil {
		t.Fatalf("rolled share: %v %v", share, err)
	}
	if share.Version != 0x22468000 || share.VersionBits != 0x02468000 {
		t.Errorf("version %08x bits %08x", share.Version, share.VersionBits)
	}
	st.stale.Store(true)
	if _, err := v.Check(Result{Work: w, Nonce: 0x004417c8, Target: TargetFromTop32(0xffff)}); !errors.Is(err, ErrStale) {
		t.Errorf("share on stale work = %v, want ErrStale", err)
	}
}

func TestHashrateWindows(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	h := NewHashrate(start)
	// 1e6 H every second for 20 minutes.
	for s := 0; s < 1200; s++ {
		h.Add(start.Add(time.Duration(s)*time.Second+500*time.Millisecond), 1e6)
	}
	end := start.Add(1200 * time.Second)
	for _, w := range []time.Duration{Window5s, Window1m, Window15m} {
		if r := h.Rate(end, w); r < 0.97e6 || r > 1.03e6 {
			t.Errorf("rate over %v = %v, want ≈1e6", w, r)
		}
	}
	// Nothing for two minutes: the short windows fall to zero, 15 min does not.
	later := end.Add(2 * time.Minute)
	if r := h.Rate(later, Window1m); r != 0 {
		t.Errorf("1m rate after silence = %v, want 0", r)
	}
	if r := h.Rate(later, Window15m); r < 0.8e6 || r > 0.9e6 {
		t.Errorf("15m rate after 2 min silence = %v, want ≈ 13/15 of 1e6", r)
	}
	// Young estimator: averages over uptime, not the full window.
	y := NewHashrate(start)
	y.Add(start.Add(time.Second), 10e6)
	if r := y.Rate(start.Add(10*time.Second), Window15m); r < 0.9e6 || r > 1.1e6 {
		t.Errorf("young 15m rate = %v, want ≈ 1e6 (10e6 H over 10 s)", r)
	}
}
