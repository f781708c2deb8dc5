package stratumproxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// mgrHarness runs a Manager and records its callbacks.
type mgrHarness struct {
	m      *Manager
	jobs   chan *mining.Job
	idle   chan struct{}
	shares chan ShareResult
	log    *cliLog
}

func newMgrHarness(t *testing.T, urls []string, mutate func(*ManagerConfig)) *mgrHarness {
	t.Helper()
	h := &mgrHarness{
		jobs: make(chan *mining.Job, 4096), idle: make(chan struct{}, 64),
		shares: make(chan ShareResult, 4096), log: &cliLog{},
	}
	cfg := ManagerConfig{
		UserAgent: "kiln/test",
		OnJob: func(j *mining.Job) {
			select {
			case h.jobs <- j:
			default:
			}
		},
		OnIdle: func() {
			select {
			case h.idle <- struct{}{}:
			default:
			}
		},
		OnShare: func(r ShareResult) {
			select {
			case h.shares <- r:
			default:
			}
		},
		BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		Log: h.log.logger(),
	}
	for _, u := range urls {
		cfg.Pools = append(cfg.Pools, PoolConfig{URL: u})
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(cliWait):
			t.Error("manager Run did not return after cancel")
		}
	})
	return h
}

// mgrWaitFor polls cond (network-driven state) until it holds.
func mgrWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(cliWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *mgrHarness) waitActive(t *testing.T, want int) {
	t.Helper()
	mgrWaitFor(t, "the active pool to become "+string(rune('0'+want)), func() bool {
		i, _ := h.m.Active()
		return i == want
	})
}

func (h *mgrHarness) state(i int) string { return h.m.Status()[i].State }

// job returns the next job OnJob delivered from pool i.
func (h *mgrHarness) job(t *testing.T, pool int) *mining.Job {
	t.Helper()
	deadline := time.After(cliWait)
	for {
		select {
		case j := <-h.jobs:
			if j.Pool == pool {
				return j
			}
		case <-deadline:
			t.Fatalf("no job from pool %d", pool)
			return nil
		}
	}
}

func (h *mgrHarness) share(t *testing.T) ShareResult {
	t.Helper()
	select {
	case r := <-h.shares:
		return r
	case <-time.After(cliWait):
		t.Fatal("no share result")
		return ShareResult{}
	}
}

func TestManagerFailoverOnDisconnectAndFailback(t *testing.T) {
	cliNoLeaks(t)
	a, b := newCliAutoPool(t), newCliAutoPool(t)
	const grace = 300 * time.Millisecond
	h := newMgrHarness(t, []string{a.url(), b.url()}, func(c *ManagerConfig) { c.FailbackGrace = grace })
	h.waitActive(t, 0)
	mgrWaitFor(t, "pool 1 on standby", func() bool { return h.state(1) == PoolStandby })
	st := h.m.Status()
	if st[0].State != PoolActive || !st[1].VersionRolling || st[1].Difficulty != 2 || st[1].User != "w" ||
		st[1].URL != "stratum+tcp://"+b.ln.Addr().String() || st[1].Priority != 1 {
		t.Errorf("status: %+v", st)
	}
	if _, url := h.m.Active(); url != "stratum+tcp://"+a.ln.Addr().String() {
		t.Errorf("active URL %q", url)
	}

	a.set(func(p *cliAutoPool) { p.down = true })
	a.dropAll()
	h.waitActive(t, 1)
	if j := h.job(t, 1); j.Difficulty != 2 || len(j.Extranonce1) != 4 {
		t.Errorf("job handed over on the switch: %+v", j)
	}
	if st := h.m.Status()[0]; st.State == PoolActive || st.State == PoolStandby || st.LastError == "" {
		t.Errorf("pool 0 after losing it: %+v", st)
	}

	// Pool 0 cannot be healthy before it is let back up, so a failback
	// that honours the grace comes at least grace after this instant.
	back := time.Now()
	a.set(func(p *cliAutoPool) { p.down = false })
	mgrWaitFor(t, "pool 0 back on standby", func() bool { return h.state(0) == PoolStandby })
	h.waitActive(t, 0)
	if waited := time.Since(back); waited < grace {
		t.Errorf("failed back %v after pool 0 recovered, before the %v grace", waited, grace)
	}
	h.job(t, 0)
	logs := h.log.String()
	for _, want := range []string{`msg="pool switch"`, "reason=disconnected", "reason=failback"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if len(h.idle) != 0 {
		t.Error("OnIdle called although a backup was usable")
	}
}

func TestManagerRefusedAuthorization(t *testing.T) {
	cliNoLeaks(t)
	a, b := newCliAutoPool(t), newCliAutoPool(t)
	h := newMgrHarness(t, []string{a.url(), b.url()}, func(c *ManagerConfig) {
		c.FailbackGrace = 100 * time.Millisecond
	})
	h.waitActive(t, 0)

	a.set(func(p *cliAutoPool) { p.refuseAuth = true })
	a.dropAll()
	h.waitActive(t, 1)
	mgrWaitFor(t, "the refusal to show", func() bool {
		return strings.Contains(h.m.Status()[0].LastError, "authorization refused")
	})
	// The client keeps retrying, with backoff, and the manager stays away.
	before, _ := a.counts()
	mgrWaitFor(t, "three more attempts", func() bool { n, _ := a.counts(); return n >= before+3 })
	if i, _ := h.m.Active(); i != 1 {
		t.Errorf("active %d while pool 0 refuses logins, want 1", i)
	}
	if st := h.state(0); st != PoolDead && st != PoolConnecting {
		t.Errorf("refusing pool state %q", st)
	}
	a.set(func(p *cliAutoPool) { p.refuseAuth = false })
	h.waitActive(t, 0)
}

func TestManagerRefusedAuthorizationAtStart(t *testing.T) {
	cliNoLeaks(t)
	a, b := newCliAutoPool(t), newCliAutoPool(t)
	a.set(func(p *cliAutoPool) { p.refuseAuth = true })
	h := newMgrHarness(t, []string{a.url(), b.url()}, nil)
	h.waitActive(t, 1)
	mgrWaitFor(t, "pool 0 marked dead", func() bool {
		st := h.m.Status()[0]
		return st.State == PoolDead && strings.Contains(st.LastError, "authorization refused")
	})
}

func TestManagerRejectRunAndRouting(t *testing.T) {
	cliNoLeaks(t)
	a, b := newCliAutoPool(t), newCliAutoPool(t)
	a.set(func(p *cliAutoPool) { p.reject = true })
	const grace = 300 * time.Millisecond
	h := newMgrHarness(t, []string{a.url(), b.url()}, func(c *ManagerConfig) {
		c.RejectRun, c.FailbackGrace = 3, grace
	})
	h.waitActive(t, 0)
	mgrWaitFor(t, "pool 1 on standby", func() bool { return h.state(1) == PoolStandby })
	jobA := h.job(t, 0)

	// A share goes to the pool that issued its job, even a standby one
	// (pool 1 is on its first connection).
	h.m.Submit(nil)                                      // ignored, no panic
	h.m.Submit(&mining.Share{Job: &mining.Job{Pool: 7}}) // no such pool: ignored
	bJob := *jobA
	bJob.Pool, bJob.Session = 1, h.m.Status()[1].session
	h.m.Submit(cliShare(&bJob))
	if r := h.share(t); !r.Accepted || r.Pool != 1 {
		t.Errorf("share routed to pool 1: %+v", r)
	}
	if _, subs := a.counts(); subs != 0 {
		t.Errorf("pool 0 received %d submits meant for pool 1", subs)
	}

	for i := range 3 {
		h.m.Submit(cliShare(jobA))
		r := h.share(t)
		if r.Accepted || !errors.Is(r.Err, ErrLowDifficulty) || r.Pool != 0 {
			t.Errorf("share %d: %+v, want rejected low difficulty", i, r)
		}
	}
	h.waitActive(t, 1)
	st := h.m.Status()
	if st[0].Rejected != 3 || st[0].RejectedByReason["low_difficulty"] != 3 || st[0].Accepted != 0 ||
		!strings.Contains(st[0].LastError, "rejected shares in a row") || st[1].Accepted != 1 {
		t.Errorf("status after the reject run: %+v", st)
	}

	// The demoted pool was re-dialled; a share of its old session is stale.
	mgrWaitFor(t, "pool 0 reconnected", func() bool { n, _ := a.counts(); return n >= 2 })
	mgrWaitFor(t, "pool 0 back on standby", func() bool { return h.state(0) == PoolStandby })
	h.m.Submit(cliShare(jobA))
	if r := h.share(t); !errors.Is(r.Err, mining.ErrStale) {
		t.Errorf("share of the demoted session: %+v, want stale", r)
	}
	if st := h.m.Status()[0]; st.Stale != 1 || st.Rejected != 3 {
		t.Errorf("counters: stale %d rejected %d, want 1 and 3", st.Stale, st.Rejected)
	}
	h.waitActive(t, 0) // after the grace it is preferred again
}

func TestManagerNoWork(t *testing.T) {
	cliNoLeaks(t)
	a, b := newCliAutoPool(t), newCliAutoPool(t)
	b.set(func(p *cliAutoPool) { p.down, p.notifyEvery = true, 30*time.Millisecond })
	h := newMgrHarness(t, []string{a.url(), b.url()}, func(c *ManagerConfig) {
		c.NoWorkTimeout, c.FailbackGrace = 250*time.Millisecond, time.Minute
	})
	h.waitActive(t, 0)
	b.set(func(p *cliAutoPool) { p.down = false })
	mgrWaitFor(t, "pool 1 on standby", func() bool { return h.state(1) == PoolStandby })
	h.waitActive(t, 1) // pool 0 sent one job and then nothing
	h.job(t, 1)
	if st := h.m.Status()[0]; !strings.Contains(st.LastError, "no new job") {
		t.Errorf("pool 0 last error %q", st.LastError)
	}
	mgrWaitFor(t, "pool 0 re-dialled", func() bool { n, _ := a.counts(); return n >= 2 })
	if i, _ := h.m.Active(); i != 1 {
		t.Errorf("active %d, want 1: pool 0 is within its grace", i)
	}
	if !strings.Contains(h.log.String(), "reason=\"no new job") {
		t.Error("switch reason not logged")
	}
}

func TestManagerIdleWhenNoPool(t *testing.T) {
	cliNoLeaks(t)
	a := newCliAutoPool(t)
	h := newMgrHarness(t, []string{a.url()}, nil)
	h.waitActive(t, 0)
	h.job(t, 0)
	a.set(func(p *cliAutoPool) { p.down = true })
	a.dropAll()
	select {
	case <-h.idle:
	case <-time.After(cliWait):
		t.Fatal("OnIdle not called")
	}
	if i, url := h.m.Active(); i != -1 || url != "" {
		t.Errorf("Active() = %d %q, want -1 \"\"", i, url)
	}
	a.set(func(p *cliAutoPool) { p.down = false })
	h.waitActive(t, 0)
	if j := h.job(t, 0); j.Session < 2 {
		t.Errorf("job of session %d after the pool came back", j.Session)
	}
}

func TestNewManagerErrors(t *testing.T) {
	if _, err := NewManager(ManagerConfig{}); err == nil {
		t.Error("no pools: want an error")
	}
	_, err := NewManager(ManagerConfig{Pools: []PoolConfig{{URL: "stratum+tcp://u:hunter2@h:1"}, {URL: "u:hunter2@nohost"}}})
	if err == nil || !strings.Contains(err.Error(), "pool 1") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad second URL: %v", err)
	}
	m, err := NewManager(ManagerConfig{Pools: []PoolConfig{{URL: "h:1", User: "explicit"}}})
	if err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if len(st) != 1 || st[0].State != PoolConnecting || st[0].User != "explicit" || st[0].URL != "stratum+tcp://h:1" {
		t.Errorf("initial status %+v", st)
	}
	if i, _ := m.Active(); i != -1 {
		t.Errorf("active %d before Run", i)
	}
}

func TestManagerDemotedPoolWaitsGrace(t *testing.T) {
	cliNoLeaks(t)
	a, b, c := newCliAutoPool(t), newCliAutoPool(t), newCliAutoPool(t)
	const grace = 600 * time.Millisecond
	h := newMgrHarness(t, []string{a.url(), b.url(), c.url()}, func(cfg *ManagerConfig) {
		cfg.RejectRun, cfg.FailbackGrace = 2, grace
	})
	h.waitActive(t, 0)
	mgrWaitFor(t, "pools 1 and 2 on standby", func() bool {
		return h.state(1) == PoolStandby && h.state(2) == PoolStandby
	})
	jobA := h.job(t, 0)
	a.set(func(p *cliAutoPool) { p.reject = true })
	demoted := time.Now()
	h.m.Submit(cliShare(jobA))
	h.m.Submit(cliShare(jobA))
	h.waitActive(t, 1)
	mgrWaitFor(t, "pool 0 healthy again", func() bool { return h.state(0) == PoolStandby })

	// Pool 1 fails: pool 0 is preferred by priority but still on
	// probation, so the manager takes pool 2.
	b.set(func(p *cliAutoPool) { p.down = true })
	b.dropAll()
	mgrWaitFor(t, "a failover away from pool 1", func() bool { i, _ := h.m.Active(); return i != 1 })
	if i, _ := h.m.Active(); i != 2 && time.Since(demoted) < grace {
		t.Errorf("failed over to pool %d, want 2 while pool 0 is within its grace", i)
	}
	h.waitActive(t, 0) // once the grace has passed
	if time.Since(demoted) < grace {
		t.Errorf("back on the demoted pool after %v, before its %v grace", time.Since(demoted), grace)
	}
}

// TestManagerStartupPrefersSlowPrimary: at start, a backup that answers
// first does not win while the primary is still completing its first
// handshake; a primary that is down does not hold the start back.
func TestManagerStartupPrefersSlowPrimary(t *testing.T) {
	primary, backup := newCliAutoPool(t), newCliAutoPool(t)
	primary.set(func(p *cliAutoPool) { p.authDelay = 300 * time.Millisecond })
	h := newMgrHarness(t, []string{primary.url(), backup.url()}, func(c *ManagerConfig) {
		c.FailbackGrace = time.Minute
		c.StartupWait = 5 * time.Second
	})
	h.waitActive(t, 0)
	if n := strings.Count(h.log.String(), `msg="pool switch"`); n != 1 {
		t.Errorf("%d pool switches at start, want exactly one (straight to the primary):\n%s", n, h.log.String())
	}

	down, up := newCliAutoPool(t), newCliAutoPool(t)
	down.set(func(p *cliAutoPool) { p.down = true })
	start := time.Now()
	h2 := newMgrHarness(t, []string{down.url(), up.url()}, func(c *ManagerConfig) {
		c.FailbackGrace = time.Minute
		c.StartupWait = 5 * time.Second
	})
	h2.waitActive(t, 1)
	if waited := time.Since(start); waited >= 5*time.Second {
		t.Errorf("a dead primary held the start for %v", waited)
	}
}
