package app

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
	"github.com/kilnfw/kiln/webui"
)

// proxyConfig turns the proxy flags into the stratumproxy configuration.
func (o *options) proxyConfig() (stratumproxy.ProxyConfig, error) {
	cfg := stratumproxy.ProxyConfig{
		StartDifficulty:     o.downstreamDiff,
		MinDifficulty:       o.minDiff,
		TargetShareInterval: o.shareInterval,
		Passthrough:         len(o.proxyWorkers) == 0,
		MaxConns:            o.maxConns,
		MaxConnsPerIP:       o.maxConnsPerIP,
		ProtocolLog:         o.protocolLog,
	}
	if len(o.proxyWorkers) > 0 {
		cfg.Workers = make(map[string]string, len(o.proxyWorkers))
		for _, w := range o.proxyWorkers {
			name, pass, ok := strings.Cut(w, ":")
			if !ok || name == "" {
				return cfg, fmt.Errorf("--worker %q: want NAME:PASSWORD", w)
			}
			cfg.Workers[name] = pass
		}
	}
	for _, a := range o.allowNets {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return cfg, fmt.Errorf("--allow %q: %w", a, err)
		}
		cfg.AllowNets = append(cfg.AllowNets, p)
	}
	return cfg, nil
}

// proxyPlan is `controller proxy`: no hashing hardware, only the
// downstream listener.
type proxyPlan struct{}

func (proxyPlan) name() string                                 { return "proxy" }
func (proxyPlan) dispatcherOptions() []mining.DispatcherOption { return nil }
func (proxyPlan) expectedHashrate() float64                    { return 0 }
func (proxyPlan) build(*mining.Dispatcher, func(mining.Result) error) (hasher, error) {
	return idleHasher{}, nil
}

// idleHasher hashes nothing: the proxy's miners do the work.
type idleHasher struct{}

func (idleHasher) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (idleHasher) Units() int                    { return 0 }
func (idleHasher) Boards() []webui.Board         { return nil }

// workerBook accumulates the proxy's per-worker outcomes until they are
// added to the store's lifetime statistics.
type workerBook struct {
	mu      sync.Mutex
	pending map[string]*store.WorkerDelta
}

func (b *workerBook) add(ws stratumproxy.WorkerShare) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.entryLocked(ws.Worker)
	d.Difficulty = ws.Difficulty
	d.LastShare = ws.Time
	switch {
	case ws.Accepted:
		d.Accepted++
		d.AcceptedDifficulty += ws.Difficulty
	case ws.Stale:
		d.Stale++
	default:
		d.Rejected++
		d.RejectedByReason[ws.Reason]++
	}
}

// take returns the pending deltas and forgets them.
func (b *workerBook) take() []store.WorkerDelta {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]store.WorkerDelta, 0, len(b.pending))
	for _, d := range b.pending {
		out = append(out, *d)
	}
	b.pending = nil
	return out
}

// putBack returns deltas that could not be saved, to try again later.
func (b *workerBook) putBack(ds []store.WorkerDelta) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range ds {
		mergeDelta(b.entryLocked(d.Worker), d)
	}
}

// entryLocked returns the worker's pending delta, creating it (b.mu held).
func (b *workerBook) entryLocked(worker string) *store.WorkerDelta {
	if b.pending == nil {
		b.pending = make(map[string]*store.WorkerDelta)
	}
	d := b.pending[worker]
	if d == nil {
		d = &store.WorkerDelta{Worker: worker, RejectedByReason: map[string]uint64{}}
		b.pending[worker] = d
	}
	return d
}

// peek returns a copy of the deltas not saved yet.
func (b *workerBook) peek() []store.WorkerDelta {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]store.WorkerDelta, 0, len(b.pending))
	for _, d := range b.pending {
		cp := *d
		cp.RejectedByReason = maps.Clone(d.RejectedByReason)
		out = append(out, cp)
	}
	return out
}

// mergeDelta adds d to dst: counts add up, the newer share time and a known
// difficulty win. The store applies the same rule to what it keeps.
func mergeDelta(dst *store.WorkerDelta, d store.WorkerDelta) {
	dst.Accepted += d.Accepted
	dst.Rejected += d.Rejected
	dst.Stale += d.Stale
	dst.AcceptedDifficulty += d.AcceptedDifficulty
	for r, n := range d.RejectedByReason {
		dst.RejectedByReason[r] += n
	}
	if d.Difficulty > 0 {
		dst.Difficulty = d.Difficulty
	}
	if d.LastShare.After(dst.LastShare) {
		dst.LastShare = d.LastShare
	}
}

// flushWorkers saves the pending worker statistics.
func (c *core) flushWorkers(ctx context.Context) {
	if c.proxy == nil {
		return
	}
	ds := c.workers.take()
	if err := c.store.AddWorkerStats(ctx, ds); err != nil {
		c.log.Warn("saving proxy worker statistics", "err", err)
		c.workers.putBack(ds)
	}
}

// ProxyWorkers implements webui.ProxyStatus: lifetime counts from the
// store plus what is not saved yet (merged in memory: reading the API never
// writes the database), with the live connection count, difficulty and
// hash rate. Nil when the proxy is off.
func (c *core) ProxyWorkers() []webui.ProxyWorker {
	if c.proxy == nil {
		return nil
	}
	recs, err := c.store.Workers(context.Background())
	if err != nil {
		c.log.Warn("reading proxy worker statistics", "err", err)
	}
	byName := map[string]*store.WorkerDelta{}
	firstSeen := map[string]time.Time{}
	for _, r := range recs {
		byName[r.Worker] = &store.WorkerDelta{Worker: r.Worker, Accepted: r.Accepted, Rejected: r.Rejected,
			Stale: r.Stale, RejectedByReason: r.RejectedByReason, Difficulty: r.Difficulty, LastShare: r.LastShare}
		firstSeen[r.Worker] = r.FirstSeen
	}
	for _, d := range c.workers.peek() {
		w := byName[d.Worker]
		if w == nil {
			w = &store.WorkerDelta{Worker: d.Worker, RejectedByReason: map[string]uint64{}}
			byName[d.Worker] = w
		}
		mergeDelta(w, d)
	}
	live := map[string]stratumproxy.WorkerStats{}
	for _, l := range c.proxy.Workers() {
		live[l.Worker] = l
		if byName[l.Worker] == nil {
			byName[l.Worker] = &store.WorkerDelta{Worker: l.Worker, RejectedByReason: map[string]uint64{}}
		}
	}
	out := make([]webui.ProxyWorker, 0, len(byName))
	for name, d := range byName {
		w := webui.ProxyWorker{Worker: name, Difficulty: d.Difficulty, Accepted: d.Accepted,
			Rejected: d.Rejected, RejectedByReason: d.RejectedByReason, Stale: d.Stale,
			LastShare: timePtr(d.LastShare), FirstSeen: timePtr(firstSeen[name])}
		if l, ok := live[name]; ok {
			w.Connections, w.HashrateHS = l.Connections, l.HashrateHS
			if l.Difficulty > 0 {
				w.Difficulty = l.Difficulty
			}
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b webui.ProxyWorker) int { return strings.Compare(a.Worker, b.Worker) })
	return out
}

// timePtr is t for a JSON field that is absent when t is zero.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// listenStratum opens the downstream listener, or returns nil when addr is
// empty (the proxy is off).
func listenStratum(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stratum proxy: listen %s: %w", addr, err)
	}
	return ln, nil
}
