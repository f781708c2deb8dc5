package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

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
	if b.pending == nil {
		b.pending = make(map[string]*store.WorkerDelta)
	}
	d := b.pending[ws.Worker]
	if d == nil {
		d = &store.WorkerDelta{Worker: ws.Worker, RejectedByReason: map[string]uint64{}}
		b.pending[ws.Worker] = d
	}
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
	if b.pending == nil {
		b.pending = make(map[string]*store.WorkerDelta)
	}
	for _, d := range ds {
		cur := b.pending[d.Worker]
		if cur == nil {
			dd := d
			b.pending[d.Worker] = &dd
			continue
		}
		cur.Accepted += d.Accepted
		cur.Rejected += d.Rejected
		cur.Stale += d.Stale
		cur.AcceptedDifficulty += d.AcceptedDifficulty
		for r, n := range d.RejectedByReason {
			cur.RejectedByReason[r] += n
		}
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
// store, plus what is not saved yet, with the live connection count,
// difficulty and hash rate. Nil when the proxy is off.
func (c *core) ProxyWorkers() []webui.ProxyWorker {
	if c.proxy == nil {
		return nil
	}
	c.flushWorkers(context.Background())
	byName := map[string]*webui.ProxyWorker{}
	recs, err := c.store.Workers(context.Background())
	if err != nil {
		c.log.Warn("reading proxy worker statistics", "err", err)
	}
	for _, r := range recs {
		w := &webui.ProxyWorker{Worker: r.Worker, Difficulty: r.Difficulty, Accepted: r.Accepted,
			Rejected: r.Rejected, RejectedByReason: r.RejectedByReason, Stale: r.Stale}
		if !r.FirstSeen.IsZero() {
			t := r.FirstSeen
			w.FirstSeen = &t
		}
		if !r.LastShare.IsZero() {
			t := r.LastShare
			w.LastShare = &t
		}
		byName[r.Worker] = w
	}
	for _, live := range c.proxy.Workers() {
		w := byName[live.Worker]
		if w == nil {
			w = &webui.ProxyWorker{Worker: live.Worker}
			byName[live.Worker] = w
		}
		w.Connections, w.HashrateHS = live.Connections, live.HashrateHS
		if live.Difficulty > 0 {
			w.Difficulty = live.Difficulty
		}
	}
	out := make([]webui.ProxyWorker, 0, len(byName))
	for _, w := range byName {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b webui.ProxyWorker) int { return strings.Compare(a.Worker, b.Worker) })
	return out
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
