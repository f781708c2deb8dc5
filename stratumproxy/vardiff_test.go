package stratumproxy

import (
	"sync"
	"testing"
	"time"
)

func TestVardiffRetarget(t *testing.T) {
	r := vardiffRule{target: 10 * time.Second, every: 30 * time.Second, maxShares: 30, min: 1}
	t0 := time.Unix(1_700_000_000, 0)
	steps := []struct {
		name   string
		at     time.Duration
		share  bool
		cur    float64
		want   float64
		change bool
	}{
		{"first call starts the period", 0, false, 64, 0, false},
		{"3 shares in 30 s: on target", 10 * time.Second, true, 64, 0, false},
		{"", 20 * time.Second, true, 64, 0, false},
		{"", 30 * time.Second, true, 64, 0, false},
		{"no share for 30 s: down 6x, rounded to 8", 60 * time.Second, false, 64, 8, true},
		{"no share again, floor 1", 90 * time.Second, false, 2, 1, true},
	}
	var v vardiff
	for _, s := range steps {
		got, ok := v.observe(&r, s.cur, t0.Add(s.at), s.share)
		if ok != s.change || (ok && got != s.want) {
			t.Fatalf("%s at %v: got %v,%v want %v,%v", s.name, s.at, got, ok, s.want, s.change)
		}
	}
	// 30 shares in 3 s bring the retarget forward: 100x the rate → ×128.
	var w vardiff
	start := t0.Add(time.Hour)
	var got float64
	var ok bool
	for i := range 30 {
		got, ok = w.observe(&r, 4, start.Add(time.Duration(i+1)*100*time.Millisecond), true)
		if ok != (i == 29) {
			t.Fatalf("share %d: retarget %v", i, ok)
		}
	}
	if got != 512 {
		t.Errorf("after a burst: %v, want 512", got)
	}
}

func TestProxyVardiffOnTheWire(t *testing.T) {
	srvLeakCheck(t)
	clock := &vardiffClock{t: time.Now()}
	cfg := pxConfig()
	cfg.Now = clock.now
	cfg.StartDifficulty = 64 * pxDownDiff
	cfg.RetargetInterval = 30 * time.Second
	p, addr := pxStart(t, cfg)
	src := NewDemoSource()
	p.SetUpstreamJob(pxUpJob(t, src, true, 8))
	mc := srvDial(t, addr)
	if d, _ := mc.handshake("rig1"); d != 64*pxDownDiff {
		t.Fatalf("start difficulty %v", d)
	}
	clock.advance(31 * time.Second) // no share in a period: the difficulty falls
	p.SetUpstreamJob(pxUpJob(t, src, false, 8))
	if d := mc.nextDifficulty(); d != 8*pxDownDiff { // 64 × (0.5/31 s × 10 s) ≈ 10 → 8
		t.Errorf("retargeted difficulty %v, want %v", d, 8*pxDownDiff)
	}
	if n := mc.nextNotify(); n.Clean {
		t.Error("a vardiff change made the job clean")
	}
}

// vardiffClock is a settable clock.
type vardiffClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vardiffClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *vardiffClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
