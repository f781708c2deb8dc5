package stratumproxy

import (
	"maps"
	"math"
	"sync"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// WorkerShare is one downstream share outcome, for OnShare.
type WorkerShare struct {
	// Worker is the authorized name it came under ("" when the name was
	// not authorized on that connection).
	Worker string
	// Difficulty is the miner's difficulty the share was judged at;
	// ShareDifficulty what its hash achieved (0 when rejected).
	Difficulty, ShareDifficulty float64
	// Accepted is the downstream verdict; Reason the ReasonOf a refusal.
	Accepted bool
	Reason   string
	// Stale reports a share on a job voided by a clean job or idle
	// upstream; Forwarded one that met the upstream difficulty and went
	// to Forward.
	Stale, Forwarded bool
	Time             time.Time
}

// WorkerStats is one worker's live statistics.
type WorkerStats struct {
	Worker string
	// Connections is how many open connections authorized this name.
	Connections int
	// Difficulty is the miner's current difficulty (of one of its
	// connections, else of its last share).
	Difficulty float64
	// Accepted, Rejected and Stale count shares; RejectedByReason splits
	// Rejected (stale ones included) by ReasonOf.
	Accepted, Rejected, Stale uint64
	RejectedByReason          map[string]uint64
	LastShare                 time.Time
	// HashrateHS is accepted difficulty × 2^32 over the last
	// proxyHashrateWindow, in hashes a second.
	HashrateHS float64
}

// ProxyStats is a snapshot of the proxy's counters.
type ProxyStats struct {
	// Connections is the number of open downstream connections.
	Connections int
	// Submits counts every submit seen; SubmitsPerSec the rate over the
	// last minute.
	Submits       uint64
	SubmitsPerSec float64
	// Accepted counts shares accepted downstream, Forwarded those sent
	// upstream, Rejected refusals by reason ("rate_limited" for submits
	// over a bucket).
	Accepted, Forwarded uint64
	Rejected            map[string]uint64
}

// Statistics windows: hashrate over 10 minutes in 30 s slots, the submit
// rate over a minute in 5 s slots.
const (
	proxyHashrateWindow = 10 * time.Minute
	proxyHashrateSlots  = 20
	proxyRateSlots      = 12
	proxyMaxWorkers     = 4096
)

// workerAcc is one worker's counters.
type workerAcc struct {
	accepted, rejected, stale uint64
	byReason                  map[string]uint64
	last                      time.Time
	diff                      float64
	work                      mining.RateWindow // accepted difficulty
}

// proxyStats holds the proxy's counters under one lock.
type proxyStats struct {
	mu                           sync.Mutex
	submits, accepted, forwarded uint64
	rejected                     map[string]uint64
	rate                         mining.RateWindow
	workers                      map[string]*workerAcc
}

func newProxyStats(now time.Time) proxyStats {
	return proxyStats{rejected: map[string]uint64{}, workers: map[string]*workerAcc{},
		rate: mining.NewRateWindow(now, time.Minute, proxyRateSlots)}
}

// refuse counts a submit refused before validation.
func (s *proxyStats) refuse(now time.Time, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submits++
	s.rate.Add(now, 1)
	s.rejected[reason]++
}

// share counts a validated submit; worker "" is counted only globally.
func (s *proxyStats) share(now time.Time, worker string, ok bool, reason string, diff float64, fwd bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submits++
	s.rate.Add(now, 1)
	if ok {
		s.accepted++
		if fwd {
			s.forwarded++
		}
	} else {
		s.rejected[reason]++
	}
	if worker == "" {
		return
	}
	w := s.workers[worker]
	if w == nil {
		if len(s.workers) >= proxyMaxWorkers {
			worker = srvOtherWorkers
			w = s.workers[worker]
		}
		if w == nil {
			w = &workerAcc{byReason: map[string]uint64{},
				work: mining.NewRateWindow(now, proxyHashrateWindow, proxyHashrateSlots)}
			s.workers[worker] = w
		}
	}
	w.last, w.diff = now, diff
	switch {
	case ok:
		w.accepted++
		w.work.Add(now, diff)
	default:
		w.rejected++
		w.byReason[reason]++
		if reason == ReasonOf(ErrStale) {
			w.stale++
		}
	}
}

// Workers returns every worker's statistics, in no particular order.
func (p *Proxy) Workers() []WorkerStats {
	conns := map[string]int{}
	diffs := map[string]float64{}
	for _, c := range p.srv.snapshot() {
		c.mu.Lock()
		for w := range c.workers {
			conns[w]++
			diffs[w] = c.diff
		}
		c.mu.Unlock()
	}
	now := p.now()
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	out := make([]WorkerStats, 0, len(p.stats.workers))
	for name, w := range p.stats.workers {
		d, ok := diffs[name]
		if !ok {
			d = w.diff
		}
		out = append(out, WorkerStats{
			Worker: name, Connections: conns[name], Difficulty: d,
			Accepted: w.accepted, Rejected: w.rejected, Stale: w.stale,
			RejectedByReason: maps.Clone(w.byReason), LastShare: w.last,
			HashrateHS: w.work.Rate(now, proxyHashrateWindow) * math.Exp2(32),
		})
	}
	return out
}

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() ProxyStats {
	n := p.srv.Stats().Connections
	now := p.now()
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	return ProxyStats{
		Connections: n, Submits: p.stats.submits, SubmitsPerSec: p.stats.rate.Rate(now, time.Minute),
		Accepted: p.stats.accepted, Forwarded: p.stats.forwarded,
		Rejected: maps.Clone(p.stats.rejected),
	}
}
